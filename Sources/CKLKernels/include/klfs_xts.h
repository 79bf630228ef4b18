#ifndef KLFS_XTS_H
#define KLFS_XTS_H

#include "klfs_common.h"

// The two operations an engine supplies; the XTS driver (xts.c) does the
// rest: data unit numbering, tweak doubling and ciphertext stealing.
typedef struct klfs_xts_cipher {
    const void *context;
    // Encrypts `count` blocks (1 to KLFS_XTS_TWEAK_BATCH) in place with the
    // tweak key (T = E_K2(i)), as one pipelined batch.
    int (*encrypt_tweaks)(const void *context, uint8_t *blocks, size_t count);
    // XTS over `blocks` whole blocks with the data key, first tweak `tweak`;
    // on return `tweak` holds the tweak of the block after the last one.
    int (*crypt_blocks)(const void *context, klfs_direction direction,
                        const uint8_t *in, uint8_t *out, size_t blocks,
                        uint8_t tweak[16]);
} klfs_xts_cipher;

// The most tweaks the driver asks for at once: the width of one wide
// Key Locker instruction, and enough AES-NI blocks in flight to hide the
// instruction's latency.
#define KLFS_XTS_TWEAK_BATCH 8

// IEEE 1619 XTS over `units` consecutive data units of `unit_size` bytes
// (at least 16; a partial last block uses ciphertext stealing). Unit k uses
// the data unit sequence number first_unit + k * unit_step, first_unit a
// 128-bit little-endian value, the sum wrapping modulo 2^128 (dm-crypt
// numbers a 4096-byte sector in 512-byte units unless iv_large_sectors: a
// step of 8). in == out is allowed; other overlap is not. Returns KLFS_OK,
// KLFS_EINVAL or the first failure of the cipher.
int klfs_xts_crypt(const klfs_xts_cipher *cipher, klfs_direction direction,
                   const uint8_t *in, uint8_t *out, size_t unit_size,
                   size_t units, const uint8_t first_unit[16], uint64_t unit_step);

// Multiplies a tweak by x in GF(2^128) (IEEE 1619 little-endian convention).
void klfs_xts_double_tweak(uint8_t tweak[16]);

#endif
