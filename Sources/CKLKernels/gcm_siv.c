// AES-256-GCM-SIV (RFC 8452) from the record keys on: the software Key
// Locker wraps keys with it, taking the IWKey halves as the record keys
// (no per-nonce key derivation). POLYVAL runs on PCLMULQDQ, AES on AES-NI.
#include "klfs_softkl.h"
#include "klfs_secret.h"

#include <immintrin.h>
#include <string.h>

#define POLYVAL_TARGET __attribute__((target("pclmul,sse2")))

// x^57 + x^62 + x^63: the terms of P(x) = x^128 + x^127 + x^126 + x^121 + 1
// above x^64, divided by x^64. Multiplying a 64-bit word by it is one
// carry-less multiply.
#define POLYVAL_REDUCTION_CONSTANT 0xC200000000000000ull

// One Montgomery step: adds the multiple of P(x) that clears the low 64
// bits, then divides by x^64. P(x) = 1 mod x^64, so that multiple is the low
// word itself; its x^128 term lands in the high word after the swap.
POLYVAL_TARGET static inline __m128i fold_low_word(__m128i x, __m128i constant) {
    __m128i folded = _mm_clmulepi64_si128(x, constant, 0x00);
    return _mm_xor_si128(_mm_shuffle_epi32(x, 0x4E), folded);
}

// dot(a, b) = a * b * x^-128 mod P(x), the POLYVAL multiplication. Byte 0
// bit 0 of each operand is the coefficient of x^0, which is exactly how
// PCLMULQDQ reads a little-endian load.
POLYVAL_TARGET static __m128i polyval_dot(__m128i a, __m128i b) {
    const __m128i constant = _mm_set_epi64x(0, (long long)POLYVAL_REDUCTION_CONSTANT);
    __m128i low = _mm_clmulepi64_si128(a, b, 0x00);
    __m128i high = _mm_clmulepi64_si128(a, b, 0x11);
    __m128i middle = _mm_xor_si128(_mm_clmulepi64_si128(a, b, 0x01),
                                   _mm_clmulepi64_si128(a, b, 0x10));
    low = _mm_xor_si128(low, _mm_slli_si128(middle, 8));
    high = _mm_xor_si128(high, _mm_srli_si128(middle, 8));
    // Two folds divide the low half by x^128; the high half needs none.
    low = fold_low_word(fold_low_word(low, constant), constant);
    return _mm_xor_si128(high, low);
}

// Absorbs `data` as 16-byte blocks, the last one zero-padded.
POLYVAL_TARGET static __m128i polyval_absorb(__m128i state, __m128i h, const uint8_t *data,
                                             size_t size) {
    for (; size >= 16; data += 16, size -= 16)
        state = polyval_dot(_mm_xor_si128(state, _mm_loadu_si128((const __m128i *)data)), h);
    if (size > 0) {
        uint8_t padded[16] = {0};
        memcpy(padded, data, size);
        state = polyval_dot(_mm_xor_si128(state, _mm_loadu_si128((const __m128i *)padded)), h);
        klfs_wipe(padded, sizeof padded); // plaintext bytes die here
    }
    return state;
}

// POLYVAL(H, pad(AAD) || pad(message) || le64(AAD bits) || le64(message bits)).
POLYVAL_TARGET static void polyval_record(const uint8_t auth_key[16], const uint8_t *aad,
                                          size_t aad_size, const uint8_t *message,
                                          size_t message_size, uint8_t digest[16]) {
    __m128i h = _mm_loadu_si128((const __m128i *)auth_key);
    __m128i state = _mm_setzero_si128();
    state = polyval_absorb(state, h, aad, aad_size);
    state = polyval_absorb(state, h, message, message_size);
    __m128i lengths = _mm_set_epi64x((long long)((uint64_t)message_size * 8),
                                     (long long)((uint64_t)aad_size * 8));
    state = polyval_dot(_mm_xor_si128(state, lengths), h);
    _mm_storeu_si128((__m128i *)digest, state);
}

// tag = AES(K_enc, (POLYVAL ^ nonce) with bit 127 cleared).
static void compute_tag(const klfs_aes_key *schedule, const uint8_t auth_key[16],
                        const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                        const uint8_t *plaintext, size_t size, uint8_t tag[16]) {
    uint8_t block[16];
    polyval_record(auth_key, aad, aad_size, plaintext, size, block);
    for (size_t i = 0; i < 12; i++) block[i] ^= nonce[i];
    block[15] &= 0x7f;
    klfs_aes_encrypt_blocks(schedule, block, tag, 1);
    klfs_wipe(block, sizeof block); // the keyed POLYVAL digest dies here
}

// CTR from the tag with bit 127 set; only the first 32 bits (little-endian)
// count, wrapping modulo 2^32. in == out is allowed.
static void ctr_xor(const klfs_aes_key *schedule, const uint8_t tag[16], const uint8_t *in,
                    uint8_t *out, size_t size) {
    uint8_t counter[16], keystream[16];
    memcpy(counter, tag, 16);
    counter[15] |= 0x80;
    uint32_t count;
    memcpy(&count, counter, 4);
    while (size > 0) {
        memcpy(counter, &count, 4);
        klfs_aes_encrypt_blocks(schedule, counter, keystream, 1);
        size_t chunk = size < 16 ? size : 16;
        for (size_t i = 0; i < chunk; i++) out[i] = in[i] ^ keystream[i];
        in += chunk;
        out += chunk;
        size -= chunk;
        count++;
    }
    klfs_wipe(keystream, sizeof keystream); // keystream dies here
}

// Every byte is compared; no early exit on the first difference.
static bool tags_equal(const uint8_t a[16], const uint8_t b[16]) {
    uint8_t difference = 0;
    for (size_t i = 0; i < 16; i++) difference |= (uint8_t)(a[i] ^ b[i]);
    return difference == 0;
}

void klfs_gcm_siv_seal_with_schedule(const uint8_t auth_key[16], const klfs_aes_key *schedule,
                                     const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                                     const uint8_t *plaintext, size_t size, uint8_t *ciphertext,
                                     uint8_t tag[16]) {
    compute_tag(schedule, auth_key, nonce, aad, aad_size, plaintext, size, tag);
    ctr_xor(schedule, tag, plaintext, ciphertext, size);
}

int klfs_gcm_siv_open_with_schedule(const uint8_t auth_key[16], const klfs_aes_key *schedule,
                                    const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                                    const uint8_t *ciphertext, size_t size, const uint8_t tag[16],
                                    uint8_t *plaintext) {
    uint8_t expected[16];
    ctr_xor(schedule, tag, ciphertext, plaintext, size);
    compute_tag(schedule, auth_key, nonce, aad, aad_size, plaintext, size, expected);
    bool authentic = tags_equal(expected, tag);
    klfs_wipe(expected, sizeof expected);
    if (!authentic) {
        klfs_wipe(plaintext, size); // unauthenticated plaintext dies here
        return KLFS_EHANDLE;
    }
    return KLFS_OK;
}

void klfs_gcm_siv_seal(const uint8_t auth_key[16], const uint8_t enc_key[32],
                       const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                       const uint8_t *plaintext, size_t size, uint8_t *ciphertext,
                       uint8_t tag[16]) {
    klfs_aes_key schedule;
    klfs_aes_expand_key(enc_key, 256, &schedule, NULL);
    klfs_gcm_siv_seal_with_schedule(auth_key, &schedule, nonce, aad, aad_size, plaintext, size,
                                    ciphertext, tag);
    klfs_wipe(&schedule, sizeof schedule); // round keys die here
}

int klfs_gcm_siv_open(const uint8_t auth_key[16], const uint8_t enc_key[32],
                      const uint8_t nonce[12], const uint8_t *aad, size_t aad_size,
                      const uint8_t *ciphertext, size_t size, const uint8_t tag[16],
                      uint8_t *plaintext) {
    klfs_aes_key schedule;
    klfs_aes_expand_key(enc_key, 256, &schedule, NULL);
    int status = klfs_gcm_siv_open_with_schedule(auth_key, &schedule, nonce, aad, aad_size,
                                                 ciphertext, size, tag, plaintext);
    klfs_wipe(&schedule, sizeof schedule); // round keys die here
    return status;
}
