#ifndef KLFS_AESNI_XTS_H
#define KLFS_AESNI_XTS_H

#include "klfs_aes.h"
#include "klfs_xts.h"

// The expanded keys of one XTS key. The aesni engine keeps this in secret
// memory for the life of the volume; the software Key Locker builds one on
// the stack for one scope (klfs_softkl_load_xts_key) and wipes it.
typedef struct klfs_aesni_xts_key {
    klfs_aes_key data_encrypt;
    klfs_aes_key data_decrypt;
    klfs_aes_key tweak_encrypt;
} klfs_aesni_xts_key;

// Expands K1 (data) and K2 (tweak); the caller wipes the raw keys.
void klfs_aesni_xts_setup(klfs_aesni_xts_key *key, const uint8_t data_key[32],
                          const uint8_t tweak_key[32]);

// XTS through the fastest kernel this CPU runs: VAES-512 (8 blocks per wide
// step, two steps in flight) or AES-NI. Same contract as klfs_xts_crypt.
int klfs_aesni_xts_crypt(const klfs_aesni_xts_key *key, klfs_direction direction,
                         const uint8_t *in, uint8_t *out, size_t unit_size,
                         size_t units, const uint8_t first_unit[16]);

// "vaes-avx512" or "aesni": the kernel klfs_aesni_xts_crypt dispatches to.
const char *klfs_aesni_xts_kernel_name(void);

// Forces the AES-NI kernel even where VAES-512 exists (tests compare both).
void klfs_aesni_xts_force_kernel(int use_vaes /* -1 auto, 0 aesni, 1 vaes */);

#endif
