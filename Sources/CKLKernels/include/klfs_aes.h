#ifndef KLFS_AES_H
#define KLFS_AES_H

#include "klfs_common.h"

// An expanded AES key for AES-NI: round key i is round_keys[i]. A decryption
// schedule holds the equivalent-inverse-cipher keys in the order AESDEC
// consumes them.
typedef struct klfs_aes_key {
    _Alignas(16) uint8_t round_keys[15][16];
    uint32_t rounds; // 10 (AES-128) or 14 (AES-256)
} klfs_aes_key;

// Expands a 128- or 256-bit key. Either output may be NULL. Returns
// KLFS_EINVAL for other key sizes.
int klfs_aes_expand_key(const uint8_t *key, unsigned key_bits,
                        klfs_aes_key *encrypt_key, klfs_aes_key *decrypt_key);

// ECB over whole blocks; in == out is allowed.
void klfs_aes_encrypt_blocks(const klfs_aes_key *encrypt_key, const uint8_t *in,
                             uint8_t *out, size_t blocks);
void klfs_aes_decrypt_blocks(const klfs_aes_key *decrypt_key, const uint8_t *in,
                             uint8_t *out, size_t blocks);

#endif
