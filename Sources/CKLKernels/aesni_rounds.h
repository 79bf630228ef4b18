// AES round sequences shared by the ECB kernels (aes.c) and the XTS
// kernels (aesni_xts.c). Private to CKLKernels.
#ifndef KLFS_AESNI_ROUNDS_H
#define KLFS_AESNI_ROUNDS_H

#include "klfs_aes.h"

#include <immintrin.h>

#define KLFS_TARGET_AESNI __attribute__((target("aes,ssse3")))
#define KLFS_ALWAYS_INLINE inline __attribute__((always_inline))

// Defines `name`, which runs the whole cipher over `count` independent
// registers of blocks, round by round, so the AES units' pipelines hold all
// of them at once. `count` and `decrypt` are constants at every call site;
// the loops over registers unroll away, and so do the rounds where `rounds`
// is a constant too (key->rounds otherwise).
//
// One body for every register width: `vec` is the register type, `mm` and
// `lanes` spell the width's AES intrinsics (mm##_aesenc_##lanes:
// _mm_aesenc_si128, _mm256_aesenc_epi128) and `load_round_key` fills a
// register with one round key, in every 128-bit lane.
//
// Each round key is loaded from the schedule at its round. The pointer's
// value is hidden so that the compiler reloads the keys here instead of
// hoisting all of them out of the caller's loop: 15 keys plus the blocks
// exceed 16 registers, and the spills would put round keys on the stack.
#define KLFS_DEFINE_AES_ROUNDS(name, target, vec, mm, lanes, load_round_key)                    \
    static KLFS_ALWAYS_INLINE target void name(bool decrypt, const klfs_aes_key *key,           \
                                               unsigned rounds, vec *blocks, unsigned count) {   \
        const __m128i *round_keys = (const __m128i *)key->round_keys;                            \
        __asm__("" : "+r"(round_keys));                                                          \
        const vec whitening_key = load_round_key(&round_keys[0]);                                \
        _Pragma("GCC unroll 8") for (unsigned i = 0; i < count; i++)                             \
            blocks[i] ^= whitening_key;                                                          \
        _Pragma("GCC unroll 14") for (unsigned r = 1; r < rounds; r++) {                         \
            const vec round_key = load_round_key(&round_keys[r]);                                \
            _Pragma("GCC unroll 8") for (unsigned i = 0; i < count; i++)                         \
                blocks[i] = decrypt ? mm##_aesdec_##lanes(blocks[i], round_key)                  \
                                    : mm##_aesenc_##lanes(blocks[i], round_key);                 \
        }                                                                                        \
        const vec last_key = load_round_key(&round_keys[rounds]);                                \
        _Pragma("GCC unroll 8") for (unsigned i = 0; i < count; i++)                             \
            blocks[i] = decrypt ? mm##_aesdeclast_##lanes(blocks[i], last_key)                   \
                                : mm##_aesenclast_##lanes(blocks[i], last_key);                  \
    }

// AES-NI: one block per xmm register.
KLFS_DEFINE_AES_ROUNDS(klfs_aesni_rounds, KLFS_TARGET_AESNI, __m128i, _mm, si128, _mm_load_si128)

#endif
