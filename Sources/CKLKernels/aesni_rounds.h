// AES-NI round sequences shared by the ECB kernels (aes.c) and the AES-NI
// XTS kernel (aesni_xts.c). Private to CKLKernels.
#ifndef KLFS_AESNI_ROUNDS_H
#define KLFS_AESNI_ROUNDS_H

#include "klfs_aes.h"

#include <immintrin.h>

#define KLFS_TARGET_AESNI __attribute__((target("aes,ssse3")))
#define KLFS_ALWAYS_INLINE inline __attribute__((always_inline))

// Runs the whole cipher over `count` independent blocks, round by round, so
// the AES unit's pipeline holds all of them at once. `count` and `decrypt`
// are constants at every call site; the loops over blocks unroll away, and
// so do the rounds where `rounds` is a constant too (key->rounds otherwise).
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI void
klfs_aesni_rounds(bool decrypt, const klfs_aes_key *key, unsigned rounds, __m128i *blocks,
                  unsigned count) {
    const __m128i *round_keys = (const __m128i *)key->round_keys;
    // Hide the pointer's value so the compiler reloads each round key here
    // instead of hoisting all of them out of the caller's loop: 15 keys plus
    // the blocks exceed 16 xmm registers, and the spills would put round
    // keys on the stack.
    __asm__("" : "+r"(round_keys));
    #pragma GCC unroll 8
    for (unsigned i = 0; i < count; i++)
        blocks[i] = _mm_xor_si128(blocks[i], _mm_load_si128(&round_keys[0]));
    #pragma GCC unroll 14
    for (unsigned r = 1; r < rounds; r++) {
        const __m128i round_key = _mm_load_si128(&round_keys[r]);
        #pragma GCC unroll 8
        for (unsigned i = 0; i < count; i++)
            blocks[i] = decrypt ? _mm_aesdec_si128(blocks[i], round_key)
                                : _mm_aesenc_si128(blocks[i], round_key);
    }
    const __m128i last_key = _mm_load_si128(&round_keys[rounds]);
    #pragma GCC unroll 8
    for (unsigned i = 0; i < count; i++)
        blocks[i] = decrypt ? _mm_aesdeclast_si128(blocks[i], last_key)
                            : _mm_aesenclast_si128(blocks[i], last_key);
}

#endif
