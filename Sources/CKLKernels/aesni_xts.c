// XTS-AES-256 from expanded keys in memory: the bulk kernels behind the
// aesni engine and the software Key Locker. The generic driver (xts.c) does
// unit numbering and ciphertext stealing; this file supplies the whole-block
// kernels, one per register width (AES-NI xmm, VAES-256 ymm, VAES-512 zmm),
// and runs the one asked for or the fastest the CPU has.
#include "klfs_aesni_xts.h"
#include "klfs_secret.h"

#include "aesni_rounds.h"

#include <pthread.h>
#include <string.h>

#define TARGET_VAES256 __attribute__((target("avx2,vaes,vpclmulqdq,aes")))
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
// Pieces the kernels share.

// Defines `name`, a kernel's klfs_xts_cipher.crypt_blocks: `kernel_blocks`
// over the data key's schedule for the direction. Each branch passes
// constants, so each direction gets its own inlined copy of the kernel.
#define DEFINE_CRYPT_BLOCKS(name, target, kernel_blocks)                                        \
    static target int name(const void *context, klfs_direction direction, const uint8_t *in,   \
                           uint8_t *out, size_t blocks, uint8_t tweak[16]) {                   \
        const klfs_aesni_xts_key *key = context;                                                \
        if (direction == KLFS_DECRYPT)                                                          \
            kernel_blocks(true, &key->data_decrypt, in, out, blocks, tweak);                    \
        else                                                                                    \
            kernel_blocks(false, &key->data_encrypt, in, out, blocks, tweak);                   \
        return KLFS_OK;                                                                         \
    }

// With 16 vector registers (AES-NI, AVX2), the registers of blocks in
// flight and a round key leave no room for the tweaks, so they live in
// memory, in a stash the kernel wipes. Register copies of them must not
// live across the rounds: the compiler would spill them to stack slots no
// one could wipe. This barrier hands the stash to an (empty) asm statement
// that may read and write it, so the compiler must store every tweak
// before it and reload it after.
#define TWEAKS_TO_MEMORY(stash) __asm__ volatile("" : : "r"(stash) : "memory")

// Defines `name`: XTS over `count` registers of blocks (at most 8) whose
// tweaks wait in the stash, register i's in stash[i]: whiten the input with
// the tweaks, run the 14 rounds of AES-256 (`rounds`, the same width's
// KLFS_DEFINE_AES_ROUNDS), whiten the output. One body for the AES-NI and
// VAES-256 kernels; `vec##_u` is the width's unaligned type (__m128i_u).
#define DEFINE_STASHED_STEP(name, target, vec, rounds)                                          \
    static KLFS_ALWAYS_INLINE target void name(bool decrypt, const klfs_aes_key *key,          \
                                               const uint8_t *in, uint8_t *out, vec stash[8],  \
                                               unsigned count) {                               \
        TWEAKS_TO_MEMORY(stash);                                                               \
        vec state[8];                                                                          \
        _Pragma("GCC unroll 8") for (unsigned i = 0; i < count; i++)                           \
            state[i] = ((const vec##_u *)in)[i] ^ stash[i];                                    \
        rounds(decrypt, key, 14, state, count); /* XTS-AES-256 only */                         \
        TWEAKS_TO_MEMORY(stash);                                                               \
        _Pragma("GCC unroll 8") for (unsigned i = 0; i < count; i++)                           \
            ((vec##_u *)out)[i] = state[i] ^ stash[i];                                         \
    }

// Tweaks one per 128-bit lane, for the VAES kernels. DEFINE_TWEAK_LANES
// defines the functions below for one register width (`prefix` ymm: 2
// lanes, zmm: 4) from one body, as aes-xts-avx-x86_64.S instantiates one
// macro per vector length; `mm` spells the width's intrinsics and
// `broadcast` copies a 128-bit value to every lane.
//
// prefix##_words(v): v in every 64-bit word.
//
// prefix##_fold(bits): the low word of each lane, bits shifted out past
// x^127, times the feedback 0x87: what they are worth folded back in.
//
// prefix##_tweak_powers(tweak, p): lane j is tweak * x^(p + j), for p plus
// the last lane below 57 so that the bits shifted out of the top, times
// 0x87, still fit in one 64-bit word. Both words of lane j shift left by
// p + j; `lost` holds what each word loses (a shift by 64 yields zero, as
// power 0 needs): the low word's bits move up into the high word, the high
// word's fold back.
//
// prefix##_advance_tweaks_16(tweaks): every lane times x^16, a two-byte
// shift of the lane with the 16 bits shifted out folded back. Byte shifts
// and PCLMUL run on port 5 and leave port 0 to the AES rounds.
#define DEFINE_TWEAK_LANES(prefix, target, vec, mm, broadcast)                                  \
    static KLFS_ALWAYS_INLINE target vec prefix##_words(long long value) {                     \
        return mm##_broadcastq_epi64(_mm_cvtsi64_si128(value));                                 \
    }                                                                                           \
    static KLFS_ALWAYS_INLINE target vec prefix##_fold(vec bits) {                             \
        return mm##_clmulepi64_epi128(bits, prefix##_words(XTS_FEEDBACK), 0x00);                \
    }                                                                                           \
    static KLFS_ALWAYS_INLINE target vec prefix##_tweak_powers(__m128i tweak,                  \
                                                               unsigned first_power) {         \
        const vec lanes = broadcast(tweak);                                                     \
        const __m128i lane_of_word = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0);\
        const vec shifts =                                                                      \
            mm##_add_epi64(prefix##_words(first_power), mm##_cvtepu8_epi64(lane_of_word));      \
        const vec shifted = mm##_sllv_epi64(lanes, shifts);                                     \
        const vec lost = mm##_srlv_epi64(lanes, mm##_sub_epi64(prefix##_words(64), shifts));    \
        const vec into_high_word = mm##_bslli_epi128(lost, 8);                                  \
        const vec out_of_top = mm##_bsrli_epi128(lost, 8);                                      \
        return shifted ^ into_high_word ^ prefix##_fold(out_of_top);                            \
    }                                                                                           \
    static KLFS_ALWAYS_INLINE target vec prefix##_advance_tweaks_16(vec tweaks) {              \
        return mm##_bslli_epi128(tweaks, 2) ^ prefix##_fold(mm##_bsrli_epi128(tweaks, 14));     \
    }

// ---------------------------------------------------------------------------
// AES-NI kernel: 8 blocks per step in xmm registers. Registers: 8 of
// blocks, 1 round key; the 8 tweaks wait in the stash.

// Tweak times x: each 64-bit half doubles; bit 63 carries into the high
// half and bit 127 folds back as 0x87, both taken from sign bits without a
// branch.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI __m128i double_tweak_xmm(__m128i tweak) {
    const __m128i feedback = _mm_set_epi32(0, 1, 0, XTS_FEEDBACK);
    const __m128i signs = _mm_srai_epi32(_mm_shuffle_epi32(tweak, _MM_SHUFFLE(1, 1, 3, 3)), 31);
    return _mm_xor_si128(_mm_add_epi64(tweak, tweak), _mm_and_si128(signs, feedback));
}

DEFINE_STASHED_STEP(aesni_crypt_stashed, KLFS_TARGET_AESNI, __m128i, klfs_aesni_rounds)

// `count` blocks whose tweaks start at stash[0]; leaves stash[0] at the
// next block's tweak. Each tweak doubles the one before it: a chain of 8
// dependent doublings per step, short beside the step's rounds.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI void
aesni_xts_step(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
               __m128i stash[8], unsigned count) {
    #pragma GCC unroll 8
    for (unsigned i = 1; i < count; i++)
        stash[i] = double_tweak_xmm(stash[i - 1]);
    aesni_crypt_stashed(decrypt, key, in, out, stash, count);
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
    // Tweaks die here: in the stash, and (klfs_wipe clears the vector
    // registers too) with the round keys in registers.
    klfs_wipe(stash, sizeof stash);
}

DEFINE_CRYPT_BLOCKS(aesni_crypt_blocks, KLFS_TARGET_AESNI, aesni_xts_blocks)

// ---------------------------------------------------------------------------
// VAES-256 kernel: 2 blocks per ymm register, 16 blocks per step in 8
// registers, for the CPUs with VAES but no AVX-512: Alder Lake and Raptor
// Lake (the Key Locker CPUs) and Zen 3.
//
// Registers: 8 of blocks (two VAES units of latency 3 to 4 cycles keep
// about 8 rounds in flight), 1 round key, broadcast from the schedule at
// each round; the remaining 7 of 16 cannot hold 8 of tweaks, so the tweaks
// wait in the stash as in the AES-NI kernel. Unlike there, each register of
// tweaks advances on its own (times x^16 per step), so no chain of 16
// doublings runs through a step.

static KLFS_ALWAYS_INLINE TARGET_VAES256 __m256i broadcast_round_key(const __m128i *round_key) {
    return _mm256_broadcastsi128_si256(_mm_load_si128(round_key));
}

KLFS_DEFINE_AES_ROUNDS(vaes256_rounds, TARGET_VAES256, __m256i, _mm256, epi128, broadcast_round_key)
DEFINE_STASHED_STEP(vaes256_crypt_stashed, TARGET_VAES256, __m256i, vaes256_rounds)
DEFINE_TWEAK_LANES(ymm, TARGET_VAES256, __m256i, _mm256, _mm256_broadcastsi128_si256)

enum { VAES256_STEP_REGISTERS = 8, VAES256_STEP_BLOCKS = 2 * VAES256_STEP_REGISTERS };

// The last 1 to 15 blocks: one more full step, over a zero-padded copy,
// so that the tail needs no step of its own per length. Tails happen only
// in data units that are not a multiple of 256 bytes (sectors are).
static KLFS_ALWAYS_INLINE TARGET_VAES256 void
vaes256_xts_tail(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
                 size_t blocks, __m256i stash[VAES256_STEP_REGISTERS]) {
    __m256i copy[VAES256_STEP_REGISTERS];
    memset(copy, 0, sizeof copy);
    memcpy(copy, in, 16 * blocks);
    vaes256_crypt_stashed(decrypt, key, (const uint8_t *)copy, (uint8_t *)copy, stash,
                          VAES256_STEP_REGISTERS);
    memcpy(out, copy, 16 * blocks);
    // The data, plaintext on one side, dies here.
    klfs_wipe(copy, sizeof copy);
}

static KLFS_ALWAYS_INLINE TARGET_VAES256 void
vaes256_xts_blocks(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
                   size_t blocks, uint8_t tweak_bytes[16]) {
    // stash[i] holds the tweaks of blocks 2i and 2i+1 of the step.
    __m256i stash[VAES256_STEP_REGISTERS];
    const __m128i first = _mm_loadu_si128((const __m128i *)tweak_bytes);
    #pragma GCC unroll 8
    for (unsigned i = 0; i < VAES256_STEP_REGISTERS; i++)
        stash[i] = ymm_tweak_powers(first, 2 * i);
    for (; blocks >= VAES256_STEP_BLOCKS; blocks -= VAES256_STEP_BLOCKS, in += 256, out += 256) {
        vaes256_crypt_stashed(decrypt, key, in, out, stash, VAES256_STEP_REGISTERS);
        #pragma GCC unroll 8
        for (unsigned i = 0; i < VAES256_STEP_REGISTERS; i++)
            stash[i] = ymm_advance_tweaks_16(stash[i]);
    }
    if (blocks > 0) vaes256_xts_tail(decrypt, key, in, out, blocks, stash);
    // The tweak after the last block is lane `blocks` (0 to 15) of the stash.
    memcpy(tweak_bytes, (const uint8_t *)stash + 16 * blocks, 16);
    // Tweaks die here: in the stash, and (klfs_wipe clears the vector
    // registers too) with the round keys in registers.
    klfs_wipe(stash, sizeof stash);
}

DEFINE_CRYPT_BLOCKS(vaes256_crypt_blocks, TARGET_VAES256, vaes256_xts_blocks)

// ---------------------------------------------------------------------------
// VAES-512 kernel: 4 blocks per zmm register, 8 per wide step, two wide
// steps in flight per loop iteration. Registers (32): 15 round keys, 4 of
// tweaks (the next 16 blocks'), 4 of blocks; nothing waits in memory.

DEFINE_TWEAK_LANES(zmm, TARGET_VAES512, __m512i, _mm512, _mm512_broadcast_i32x4)

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
vaes512_xts_step(bool decrypt, const __m512i round_keys[15], const uint8_t *in, uint8_t *out,
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
vaes512_xts_blocks(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out,
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
        tweaks[i] = zmm_tweak_powers(first, 4 * i);

    for (; blocks >= 16; blocks -= 16, in += 256, out += 256) {
        vaes512_xts_step(decrypt, round_keys, in, out, &tweaks[0], all);
        vaes512_xts_step(decrypt, round_keys, in + 128, out + 128, &tweaks[2], all);
        #pragma GCC unroll 4
        for (unsigned i = 0; i < 4; i++)
            tweaks[i] = zmm_advance_tweaks_16(tweaks[i]);
    }
    if (blocks >= 8) {
        vaes512_xts_step(decrypt, round_keys, in, out, &tweaks[0], all);
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
        vaes512_xts_step(decrypt, round_keys, in, out, tweaks, masks);
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

DEFINE_CRYPT_BLOCKS(vaes512_crypt_blocks, TARGET_VAES512, vaes512_xts_blocks)

// ---------------------------------------------------------------------------
// Dispatch.

bool klfs_xts_kernel_runs_on(klfs_xts_kernel kernel, const klfs_cpu_features *features) {
    // Every kernel encrypts the tweak with AES-NI (klfs_aes_encrypt_blocks).
    switch (kernel) {
    case KLFS_XTS_KERNEL_AUTO:
    case KLFS_XTS_KERNEL_AESNI_XMM: return features->aesni;
    case KLFS_XTS_KERNEL_VAES256: return features->aesni && klfs_cpu_has_vaes256(features);
    case KLFS_XTS_KERNEL_VAES512: return features->aesni && klfs_cpu_has_vaes512(features);
    }
    return false;
}

klfs_xts_kernel klfs_xts_kernel_best_for(const klfs_cpu_features *features) {
    static const klfs_xts_kernel fastest_first[] = {
        KLFS_XTS_KERNEL_VAES512, KLFS_XTS_KERNEL_VAES256, KLFS_XTS_KERNEL_AESNI_XMM};
    for (size_t i = 0; i < sizeof fastest_first / sizeof fastest_first[0]; i++)
        if (klfs_xts_kernel_runs_on(fastest_first[i], features)) return fastest_first[i];
    return KLFS_XTS_KERNEL_AUTO;
}

// This process's CPU, read once, so that a kernel asked for is checked
// against what the CPU really runs whatever the caller believed.
static pthread_once_t detect_once = PTHREAD_ONCE_INIT;
static klfs_cpu_features this_cpu;

static void detect_cpu(void) { klfs_cpu_detect(&this_cpu); }

static const klfs_cpu_features *cpu(void) {
    pthread_once(&detect_once, detect_cpu);
    return &this_cpu;
}

typedef int (*crypt_blocks_function)(const void *context, klfs_direction direction,
                                     const uint8_t *in, uint8_t *out, size_t blocks,
                                     uint8_t tweak[16]);

static const crypt_blocks_function crypt_blocks_of[] = {
    [KLFS_XTS_KERNEL_AESNI_XMM] = aesni_crypt_blocks,
    [KLFS_XTS_KERNEL_VAES256] = vaes256_crypt_blocks,
    [KLFS_XTS_KERNEL_VAES512] = vaes512_crypt_blocks,
};

static int encrypt_tweaks(const void *context, uint8_t *blocks, size_t count) {
    const klfs_aesni_xts_key *key = context;
    klfs_aes_encrypt_blocks(&key->tweak_encrypt, blocks, blocks, count);
    return KLFS_OK;
}

int klfs_aesni_xts_crypt(const klfs_aesni_xts_key *key, klfs_xts_kernel kernel,
                         klfs_direction direction, const uint8_t *in, uint8_t *out,
                         size_t unit_size, size_t units, const uint8_t first_unit[16],
                         uint64_t unit_step) {
    if ((unsigned)kernel > KLFS_XTS_KERNEL_VAES512) return KLFS_EINVAL;
    if (kernel == KLFS_XTS_KERNEL_AUTO) kernel = klfs_xts_kernel_best_for(cpu());
    if (kernel == KLFS_XTS_KERNEL_AUTO || !klfs_xts_kernel_runs_on(kernel, cpu()))
        return KLFS_EUNSUPPORTED;
    const klfs_xts_cipher cipher = {
        .context = key,
        .encrypt_tweaks = encrypt_tweaks,
        .crypt_blocks = crypt_blocks_of[kernel],
    };
    return klfs_xts_crypt(&cipher, direction, in, out, unit_size, units, first_unit, unit_step);
}
