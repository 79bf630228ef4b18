// AES-128/256 key expansion and ECB with AES-NI.
#include "klfs_aes.h"
#include "klfs_secret.h"

#include "aesni_rounds.h"

#include <string.h>


// Round constants, one per key-sized step of the schedule (FIPS-197 Rcon).
static const uint8_t round_constants[10] = {0x01, 0x02, 0x04, 0x08, 0x10,
                                            0x20, 0x40, 0x80, 0x1b, 0x36};

// Word j of the result is the XOR of words 0..j of `previous`: the chain
// w[i] = w[i-Nk] ^ w[i-1] across one 4-word block.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI __m128i prefix_xor_words(__m128i previous) {
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 4));
    previous = _mm_xor_si128(previous, _mm_slli_si128(previous, 8));
    return previous;
}

// SubWord(RotWord(w)) ^ Rcon (or SubWord(w) alone) of the last word of
// `block`, broadcast to all four words. With four equal columns ShiftRows is
// the identity, so AESENCLAST computes exactly SubBytes ^ key; unlike
// AESKEYGENASSIST it takes the round constant from a register, which lets
// one loop expand both key sizes.
static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI __m128i
substituted_last_word(__m128i block, bool rotate, uint8_t round_constant) {
    const __m128i rotated = _mm_setr_epi8(13, 14, 15, 12, 13, 14, 15, 12,
                                          13, 14, 15, 12, 13, 14, 15, 12);
    const __m128i plain = _mm_setr_epi8(12, 13, 14, 15, 12, 13, 14, 15,
                                        12, 13, 14, 15, 12, 13, 14, 15);
    const __m128i broadcast = _mm_shuffle_epi8(block, rotate ? rotated : plain);
    return _mm_aesenclast_si128(broadcast, _mm_set1_epi32(round_constant));
}

static KLFS_TARGET_AESNI void expand_encrypt_key(const uint8_t *key, unsigned key_blocks,
                                                 klfs_aes_key *out) {
    __m128i *round_keys = (__m128i *)out->round_keys;
    // Rows past the last round stay zero, so equal keys give equal structs.
    memset(out, 0, sizeof *out);
    out->rounds = key_blocks == 1 ? 10 : 14;
    for (unsigned i = 0; i < key_blocks; i++)
        _mm_store_si128(&round_keys[i], _mm_loadu_si128((const __m128i *)(key + 16 * i)));
    for (unsigned i = key_blocks; i <= out->rounds; i++) {
        const bool starts_key_step = i % key_blocks == 0;
        const __m128i substituted = substituted_last_word(
            _mm_load_si128(&round_keys[i - 1]), starts_key_step,
            starts_key_step ? round_constants[i / key_blocks - 1] : 0);
        const __m128i chained = prefix_xor_words(_mm_load_si128(&round_keys[i - key_blocks]));
        _mm_store_si128(&round_keys[i], _mm_xor_si128(chained, substituted));
    }
    klfs_clear_vector_registers();
}

// The equivalent inverse cipher: last encryption key first, InvMixColumns on
// the middle ones, so a plain AESDEC ... AESDECLAST loop consumes it in order.
static KLFS_TARGET_AESNI void derive_decrypt_key(const klfs_aes_key *encrypt_key,
                                                 klfs_aes_key *out) {
    const __m128i *forward = (const __m128i *)encrypt_key->round_keys;
    __m128i *inverse = (__m128i *)out->round_keys;
    const unsigned rounds = encrypt_key->rounds;
    memset(out, 0, sizeof *out);
    out->rounds = rounds;
    _mm_store_si128(&inverse[0], _mm_load_si128(&forward[rounds]));
    for (unsigned i = 1; i < rounds; i++)
        _mm_store_si128(&inverse[i], _mm_aesimc_si128(_mm_load_si128(&forward[rounds - i])));
    _mm_store_si128(&inverse[rounds], _mm_load_si128(&forward[0]));
    klfs_clear_vector_registers();
}

int klfs_aes_expand_key(const uint8_t *key, unsigned key_bits, klfs_aes_key *encrypt_key,
                        klfs_aes_key *decrypt_key) {
    if (key_bits != 128 && key_bits != 256) return KLFS_EINVAL;
    klfs_aes_key scratch;
    klfs_aes_key *forward = encrypt_key ? encrypt_key : &scratch;
    expand_encrypt_key(key, key_bits / 128, forward);
    if (decrypt_key) derive_decrypt_key(forward, decrypt_key);
    // The scratch schedule (used when the caller wants only decryption) dies here.
    klfs_wipe(&scratch, sizeof scratch);
    return KLFS_OK;
}

static KLFS_ALWAYS_INLINE KLFS_TARGET_AESNI void
ecb_crypt(bool decrypt, const klfs_aes_key *key, const uint8_t *in, uint8_t *out, size_t blocks) {
    enum { WIDTH = 8 };
    __m128i state[WIDTH];
    for (; blocks >= WIDTH; blocks -= WIDTH, in += 16 * WIDTH, out += 16 * WIDTH) {
        #pragma GCC unroll 8
        for (unsigned i = 0; i < WIDTH; i++)
            state[i] = _mm_loadu_si128((const __m128i *)(in + 16 * i));
        klfs_aesni_rounds(decrypt, key, key->rounds, state, WIDTH);
        #pragma GCC unroll 8
        for (unsigned i = 0; i < WIDTH; i++)
            _mm_storeu_si128((__m128i *)(out + 16 * i), state[i]);
    }
    for (; blocks > 0; blocks--, in += 16, out += 16) {
        state[0] = _mm_loadu_si128((const __m128i *)in);
        klfs_aesni_rounds(decrypt, key, key->rounds, state, 1);
        _mm_storeu_si128((__m128i *)out, state[0]);
    }
    // Round keys held in registers die here.
    klfs_clear_vector_registers();
}

KLFS_TARGET_AESNI void klfs_aes_encrypt_blocks(const klfs_aes_key *encrypt_key,
                                               const uint8_t *in, uint8_t *out, size_t blocks) {
    ecb_crypt(false, encrypt_key, in, out, blocks);
}

KLFS_TARGET_AESNI void klfs_aes_decrypt_blocks(const klfs_aes_key *decrypt_key,
                                               const uint8_t *in, uint8_t *out, size_t blocks) {
    ecb_crypt(true, decrypt_key, in, out, blocks);
}
