// XTS-AES-256 from expanded keys in memory: the bulk kernels behind the
// aesni engine and the software Key Locker. The generic driver (xts.c) does
// unit numbering and ciphertext stealing; this file supplies the whole-block
// kernel, VAES-512 where the CPU has it, AES-NI otherwise.
#include "klfs_aesni_xts.h"
#include "klfs_cpu.h"
#include "klfs_secret.h"

#include "aesni_rounds.h"

#include <pthread.h>
#include <stdatomic.h>

#define TARGET_VAES512 __attribute__((target("avx512f,avx512bw,avx512vl,vaes,vpclmulqdq,aes")))

// The XTS reduction polynomial x^128 = x^7 + x^2 + x + 1, as the low bits
// that fold back into the tweak.
#define XTS_FEEDBACK 0x87

void klfs_aesni_xts_setup(klfs_aesni_xts_key *key, const uint8_t data_key[32],
                          const uint8_t tweak_key[32]) {
    klfs_aes_expand_key(data_key, 256, &key->data_encrypt, &key->data_decrypt);
    klfs_aes_expand_key(tweak_key, 256, &key->tweak_encrypt, NULL);
}

// ---------------------------------------------------------------------------
// AES-NI kernel: 8 blocks per step in xmm registers.

// Tweak times x: each 64-bit half doubles; bit 63 carries into the high
// half and bit 127 folds back as 0x87, both taken from sign bits without a
// branch.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI __m128i double_tweak_xmm(__m128i tweak) {
    const __m128i feedback = _mm_set_epi32(0, 1, 0, XTS_FEEDBACK);
    const __m128i signs = _mm_srai_epi32(_mm_shuffle_epi32(tweak, _MM_SHUFFLE(1, 1, 3, 3)), 31);
    return _mm_xor_si128(_mm_add_epi64(tweak, tweak), _mm_and_si128(signs, feedback));
}

// Eight blocks and their eight tweaks do not fit in 16 xmm registers, so
// the tweaks live in memory, in a stash the kernel wipes. Register copies
// of them must not live across the rounds: the compiler would spill them
// to stack slots no one could wipe. This barrier hands the stash to an
// (empty) asm statement that may read and write it, so the compiler must
// store every tweak before it and reload it after.
#define TWEAKS_TO_MEMORY(stash) __asm__ volatile("" : : "r"(stash) : "memory")

// `count` blocks whose tweaks start at stash[0]; leaves stash[0] at the
// next block's tweak.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI void
aesni_xts_step(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
               __m128i stash[8], unsigned count) {
    #pragma GCC unroll 8
    for (unsigned i = 1; i < count; i++)
        stash[i] = double_tweak_xmm(stash[i - 1]);
    TWEAKS_TO_MEMORY(stash);
    __m128i state[8];
    #pragma GCC unroll 8
    for (unsigned i = 0; i < count; i++)
        state[i] = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i)), stash[i]);
    klfs_aesni_rounds(decrypt, key, 14, state, count); // XTS-AES-256 only
    TWEAKS_TO_MEMORY(stash);
    #pragma GCC unroll 8
    for (unsigned i = 0; i < count; i++)
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_xor_si128(state[i], stash[i]));
    stash[0] = double_tweak_xmm(stash[count - 1]);
}

static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI void
aesni_xts_blocks(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
                 size_t blocks, uint8_t tweak_bytes[16]) {
    __m128i stash[8];
    stash[0] = _mm_loadu_si128((const __m128i *)tweak_bytes);
    for (; blocks >= 8; blocks -= 8, in += 128, out += 128)
        aesni_xts_step(decrypt, key, in, out, stash, 8);
    for (; blocks > 0; blocks--, in += 16, out += 16)
        aesni_xts_step(decrypt, key, in, out, stash, 1);
    _mm_storeu_si128((__m128i *)tweak_bytes, stash[0]);
    // Tweaks die here: in the stash, and with the round keys in registers.
    klfs_wipe(stash, sizeof stash);
    klfs_clear_vector_registers();
}

static KLFS_TARGET_AESNI int aesni_crypt_blocks(const void *context, klfs_direction direction,
                                                const uint8_t *in, uint8_t *out, size_t blocks,
                                                uint8_t tweak[16]) {
    const klfs_aesni_xts_key *key = context;
    if (direction == KLFS_DECRYPT)
        aesni_xts_blocks(true, &key->data_decrypt, in, out, blocks, tweak);
    else
        aesni_xts_blocks(false, &key->data_encrypt, in, out, blocks, tweak);
    return KLFS_OK;
}

// ---------------------------------------------------------------------------
// VAES-512 kernel: 4 blocks per zmm register, 8 per wide step, two wide
// steps in flight per loop iteration.

// Lane j of the result is tweak * x^(first_power + j), for first_power + 3
// below 57 so that the bits shifted out of the top, times 0x87, still fit in
// one 64-bit half.
static KLFS_ALWAYS_INLINE TARGET_VAES512 __m512i tweak_powers(__m128i tweak,
                                                                unsigned first_power) {
    const __m512i lanes = _mm512_broadcast_i32x4(tweak);
    const unsigned p = first_power;
    const __m512i shifts = _mm512_set_epi64(p + 3, p + 3, p + 2, p + 2, p + 1, p + 1, p, p);
    const __m512i shifted = _mm512_sllv_epi64(lanes, shifts);
    // The bits each half loses (a shift by 64 yields zero, as power 0 needs).
    const __m512i lost = _mm512_srlv_epi64(lanes, _mm512_sub_epi64(_mm512_set1_epi64(64), shifts));
    const __m512i into_high_half = _mm512_bslli_epi128(lost, 8);
    const __m512i out_of_top = _mm512_bsrli_epi128(lost, 8);
    const __m512i folded = _mm512_clmulepi64_epi128(out_of_top, _mm512_set1_epi64(XTS_FEEDBACK), 0x00);
    return _mm512_ternarylogic_epi64(shifted, into_high_half, folded, 0x96); // a ^ b ^ c
}

// Every lane times x^16: a two-byte shift of the 128-bit lane, with the 16
// bits shifted out folded back by a carry-less multiply. Byte shifts and
// PCLMUL run on port 5 and leave port 0 to the AES rounds.
static KLFS_ALWAYS_INLINE TARGET_VAES512 __m512i advance_tweaks_16(__m512i tweaks) {
    const __m512i out_of_top = _mm512_bsrli_epi128(tweaks, 14);
    const __m512i folded = _mm512_clmulepi64_epi128(out_of_top, _mm512_set1_epi64(XTS_FEEDBACK), 0x00);
    return _mm512_xor_si512(_mm512_bslli_epi128(tweaks, 2), folded);
}

// The software counterpart of AESENCWIDE256KL / AESDECWIDE256KL: all 14
// AES-256 rounds over 8 blocks held in two zmm registers.
static KLFS_ALWAYS_INLINE TARGET_VAES512 void aes256_wide(bool decrypt, __m512i blocks[2],
                                                          const __m512i round_keys[15]) {
    blocks[0] = _mm512_xor_si512(blocks[0], round_keys[0]);
    blocks[1] = _mm512_xor_si512(blocks[1], round_keys[0]);
    #pragma GCC unroll 13
    for (unsigned r = 1; r < 14; r++) {
        blocks[0] = decrypt ? _mm512_aesdec_epi128(blocks[0], round_keys[r])
                            : _mm512_aesenc_epi128(blocks[0], round_keys[r]);
        blocks[1] = decrypt ? _mm512_aesdec_epi128(blocks[1], round_keys[r])
                            : _mm512_aesenc_epi128(blocks[1], round_keys[r]);
    }
    blocks[0] = decrypt ? _mm512_aesdeclast_epi128(blocks[0], round_keys[14])
                        : _mm512_aesenclast_epi128(blocks[0], round_keys[14]);
    blocks[1] = decrypt ? _mm512_aesdeclast_epi128(blocks[1], round_keys[14])
                        : _mm512_aesenclast_epi128(blocks[1], round_keys[14]);
}

// One XTS wide step over up to 8 blocks; `masks` select the 64-bit words of
// each register that exist (all-ones in the bulk loop, where they compile
// to plain loads and stores).
static KLFS_ALWAYS_INLINE TARGET_VAES512 void
vaes_xts_step(bool decrypt, const __m512i round_keys[15], const uint8_t *in, uint8_t *out,
              const __m512i tweaks[2], const __mmask8 masks[2]) {
    __m512i blocks[2];
    #pragma GCC unroll 2
    for (unsigned i = 0; i < 2; i++)
        blocks[i] = _mm512_xor_si512(_mm512_maskz_loadu_epi64(masks[i], in + 64 * i), tweaks[i]);
    aes256_wide(decrypt, blocks, round_keys);
    #pragma GCC unroll 2
    for (unsigned i = 0; i < 2; i++)
        _mm512_mask_storeu_epi64(out + 64 * i, masks[i], _mm512_xor_si512(blocks[i], tweaks[i]));
}

static KLFS_ALWAYS_INLINE TARGET_VAES512 void
vaes_xts_blocks(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
                size_t blocks, uint8_t tweak_bytes[16]) {
    static const __mmask8 all[2] = {0xff, 0xff};
    // Loops over round keys, tweak registers and blocks are fully unrolled so
    // that these arrays live in registers, never on the stack.
    __m512i round_keys[15];
    #pragma GCC unroll 15
    for (unsigned r = 0; r < 15; r++)
        round_keys[r] = _mm512_broadcast_i32x4(_mm_load_si128((const __m128i *)key->round_keys[r]));
    // tweaks[i] holds the tweaks of blocks 4i .. 4i+3 of the next 16.
    const __m128i first = _mm_loadu_si128((const __m128i *)tweak_bytes);
    __m512i tweaks[4];
    #pragma GCC unroll 4
    for (unsigned i = 0; i < 4; i++)
        tweaks[i] = tweak_powers(first, 4 * i);

    for (; blocks >= 16; blocks -= 16, in += 256, out += 256) {
        vaes_xts_step(decrypt, round_keys, in, out, &tweaks[0], all);
        vaes_xts_step(decrypt, round_keys, in + 128, out + 128, &tweaks[2], all);
        #pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++)
            tweaks[i] = advance_tweaks_16(tweaks[i]);
    }
    if (blocks >= 8) {
        vaes_xts_step(decrypt, round_keys, in, out, &tweaks[0], all);
        tweaks[0] = tweaks[2];
        tweaks[1] = tweaks[3];
        blocks -= 8;
        in += 128;
        out += 128;
    }
    if (blocks > 0) {
        const unsigned words = 2 * (unsigned)blocks; // 2..14 of the step's 16
        const __mmask8 masks[2] = {(__mmask8)((1u << (words < 8 ? words : 8)) - 1),
                                   (__mmask8)((1u << (words > 8 ? words - 8 : 0)) - 1)};
        vaes_xts_step(decrypt, round_keys, in, out, tweaks, masks);
    }
    // The tweak after the last block is lane `blocks` of tweaks[0..1].
    const __m512i lane_words = _mm512_add_epi64(_mm512_set1_epi64(2 * (long long)blocks),
                                                _mm512_set_epi64(1, 0, 1, 0, 1, 0, 1, 0));
    const __m512i next = _mm512_permutex2var_epi64(tweaks[0], lane_words, tweaks[1]);
    _mm_storeu_si128((__m128i *)tweak_bytes, _mm512_castsi512_si128(next));
    // Round keys and tweaks held in registers die here (the compiler keeps
    // them all in registers: 15 keys, 4 tweaks and 4 blocks fit in 32).
    klfs_clear_vector_registers();
}

static TARGET_VAES512 int vaes_crypt_blocks(const void *context, klfs_direction direction,
                                            const uint8_t *in, uint8_t *out, size_t blocks,
                                            uint8_t tweak[16]) {
    const klfs_aesni_xts_key *key = context;
    if (direction == KLFS_DECRYPT)
        vaes_xts_blocks(true, &key->data_decrypt, in, out, blocks, tweak);
    else
        vaes_xts_blocks(false, &key->data_encrypt, in, out, blocks, tweak);
    return KLFS_OK;
}

// ---------------------------------------------------------------------------
// Dispatch.

static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static bool cpu_has_vaes512;
static atomic_int forced_kernel = -1;

static void detect_cpu(void) {
    klfs_cpu_features features;
    klfs_cpu_detect(&features);
    cpu_has_vaes512 = klfs_cpu_has_vaes512(&features);
}

// Forcing VAES on a CPU without it falls back to AES-NI: it could not run.
static bool uses_vaes512(void) {
    pthread_once(&detect_once, detect_cpu);
    return cpu_has_vaes512 && atomic_load_explicit(&forced_kernel, memory_order_relaxed) != 0;
}

void klfs_aesni_xts_force_kernel(int use_vaes) {
    atomic_store_explicit(&forced_kernel, use_vaes == 0 || use_vaes == 1 ? use_vaes : -1,
                          memory_order_relaxed);
}

const char *klfs_aesni_xts_kernel_name(void) {
    return uses_vaes512() ? "vaes-avx512" : "aesni";
}

static int encrypt_tweak(const void *context, uint8_t block[16]) {
    const klfs_aesni_xts_key *key = context;
    klfs_aes_encrypt_blocks(&key->tweak_encrypt, block, block, 1);
    return KLFS_OK;
}

int klfs_aesni_xts_crypt(const klfs_aesni_xts_key *key, klfs_direction direction,
                         const uint8_t *in, uint8_t *out, size_t unit_size,
                         size_t units, const uint8_t first_unit[16]) {
    const klfs_xts_cipher cipher = {
        .context = key,
        .encrypt_tweak = encrypt_tweak,
        .crypt_blocks = uses_vaes512() ? vaes_crypt_blocks : aesni_crypt_blocks,
    };
    return klfs_xts_crypt(&cipher, direction, in, out, unit_size, units, first_unit);
}
