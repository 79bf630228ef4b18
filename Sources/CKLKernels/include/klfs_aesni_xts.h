#ifndef KLFS_AESNI_XTS_H
#define KLFS_AESNI_XTS_H

#include "klfs_aes.h"
#include "klfs_cpu.h"
#include "klfs_xts.h"

// The expanded keys of one XTS key. The aesni engine keeps this in secret
// memory for the life of the volume; the software Key Locker builds one on
// the stack for one scope (klfs_softkl_load_xts_key) and wipes it.
typedef struct klfs_aesni_xts_key {
    klfs_aes_key data_encrypt;
    klfs_aes_key data_decrypt;
    klfs_aes_key tweak_encrypt;
} klfs_aesni_xts_key;

// The whole-block XTS kernels behind klfs_aesni_xts_crypt. All give the
// same ciphertext; they differ in the registers they need.
typedef enum klfs_xts_kernel {
    // The fastest kernel this CPU runs: VAES-512, else VAES-256, else AES-NI.
    KLFS_XTS_KERNEL_AUTO = 0,
    // AES-NI, 8 blocks per step in xmm registers: every AES-NI CPU.
    KLFS_XTS_KERNEL_AESNI_XMM = 1,
    // VAES + VPCLMULQDQ + AVX2, 16 blocks per step in ymm registers: Alder
    // Lake, Raptor Lake (the Key Locker CPUs, which have no AVX-512), Zen 3.
    KLFS_XTS_KERNEL_VAES256 = 2,
    // VAES + VPCLMULQDQ + AVX-512, two 8-block steps in flight in zmm
    // registers: Ice Lake server and later Xeons, Zen 4 and later.
    KLFS_XTS_KERNEL_VAES512 = 3,
} klfs_xts_kernel;

// Whether `kernel` can run on a CPU with `features` (AUTO: whether any can).
bool klfs_xts_kernel_runs_on(klfs_xts_kernel kernel, const klfs_cpu_features *features);

// The kernel AUTO means on a CPU with `features`; AUTO itself when none runs.
klfs_xts_kernel klfs_xts_kernel_best_for(const klfs_cpu_features *features);

// Expands K1 (data) and K2 (tweak); the caller wipes the raw keys.
void klfs_aesni_xts_setup(klfs_aesni_xts_key *key, const uint8_t data_key[32],
                          const uint8_t tweak_key[32]);

// XTS (klfs_xts_crypt's contract) through `kernel`, or the fastest one this
// CPU runs for KLFS_XTS_KERNEL_AUTO. A kernel this CPU cannot run (as
// CPUID and XGETBV tell this process) is KLFS_EUNSUPPORTED, never #UD.
int klfs_aesni_xts_crypt(const klfs_aesni_xts_key *key, klfs_xts_kernel kernel,
                         klfs_direction direction, const uint8_t *in, uint8_t *out,
                         size_t unit_size, size_t units, const uint8_t first_unit[16],
                         uint64_t unit_step);

#endif
