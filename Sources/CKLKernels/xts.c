// The IEEE 1619 XTS driver shared by every engine: data unit numbering,
// tweak doubling and ciphertext stealing around an engine's two operations.
#include "klfs_xts.h"
#include "klfs_secret.h"

#include <string.h>

void klfs_xts_double_tweak(uint8_t tweak[16]) {
    uint64_t low, high;
    memcpy(&low, tweak, 8);
    memcpy(&high, tweak + 8, 8);
    // Branch-free: the tweak is secret.
    const uint64_t reduction = 0x87 & (0 - (high >> 63));
    high = (high << 1) | (low >> 63);
    low = (low << 1) ^ reduction;
    memcpy(tweak, &low, 8);
    memcpy(tweak + 8, &high, 8);
}

// Adds `step` to a 128-bit little-endian number, wrapping at 2^128.
static void advance_unit_number(uint8_t number[16], uint64_t step) {
    uint64_t low, high;
    memcpy(&low, number, 8);
    memcpy(&high, number + 8, 8);
    low += step;
    high += low < step;
    memcpy(number, &low, 8);
    memcpy(number + 8, &high, 8);
}

// The last whole block and the partial block after it (IEEE 1619 5.3.2):
// the whole block goes through with one tweak, the partial block borrows
// its trailing bytes, and the combination goes through with the other
// tweak. Encryption uses T(m-1) then T(m); decryption T(m) then T(m-1).
static int crypt_stolen_pair(const klfs_xts_cipher *cipher, klfs_direction direction,
                             const uint8_t *in, uint8_t *out, size_t partial,
                             const uint8_t tweak[16]) {
    uint8_t tweaks[2][16];
    memcpy(tweaks[0], tweak, 16);
    memcpy(tweaks[1], tweak, 16);
    klfs_xts_double_tweak(tweaks[1]);
    uint8_t *first_tweak = tweaks[direction == KLFS_DECRYPT];
    uint8_t *second_tweak = tweaks[direction != KLFS_DECRYPT];

    uint8_t whole[16], combined[16];
    int status = cipher->crypt_blocks(cipher->context, direction, in, whole, 1, first_tweak);
    if (status == KLFS_OK) {
        // Read the partial input before writing the partial output: in == out is allowed.
        memcpy(combined, in + 16, partial);
        memcpy(combined + partial, whole + partial, 16 - partial);
        memcpy(out + 16, whole, partial);
        status = cipher->crypt_blocks(cipher->context, direction, combined, out, 1, second_tweak);
    }
    // Tweaks and intermediate blocks are key-derived; they die here.
    klfs_wipe(tweaks, sizeof tweaks);
    klfs_wipe(whole, sizeof whole);
    klfs_wipe(combined, sizeof combined);
    return status;
}

// One data unit whose tweak T = E_K2(unit number) is already computed.
static int crypt_unit(const klfs_xts_cipher *cipher, klfs_direction direction,
                      const uint8_t *in, uint8_t *out, size_t unit_size, uint8_t tweak[16]) {
    const size_t partial = unit_size % 16;
    // With a partial block, the last whole block belongs to the stolen pair.
    const size_t bulk_blocks = unit_size / 16 - (partial != 0);
    int status = KLFS_OK;
    if (bulk_blocks > 0)
        status = cipher->crypt_blocks(cipher->context, direction, in, out, bulk_blocks, tweak);
    if (status == KLFS_OK && partial != 0)
        status = crypt_stolen_pair(cipher, direction, in + 16 * bulk_blocks,
                                   out + 16 * bulk_blocks, partial, tweak);
    return status;
}

int klfs_xts_crypt(const klfs_xts_cipher *cipher, klfs_direction direction,
                   const uint8_t *in, uint8_t *out, size_t unit_size,
                   size_t units, const uint8_t first_unit[16], uint64_t unit_step) {
    if (unit_size < 16) return KLFS_EINVAL;
    uint8_t unit_number[16];
    memcpy(unit_number, first_unit, 16);
    // The tweaks of a batch of units, encrypted together: one at a time,
    // each unit would wait out a whole AES latency before its first block
    // (eight times per 4 KiB of 512-byte sectors).
    uint8_t tweaks[KLFS_XTS_TWEAK_BATCH][16];
    int status = KLFS_OK;
    for (size_t done = 0; done < units && status == KLFS_OK;) {
        const size_t batch = units - done < KLFS_XTS_TWEAK_BATCH ? units - done : KLFS_XTS_TWEAK_BATCH;
        for (size_t i = 0; i < batch; i++) {
            memcpy(tweaks[i], unit_number, 16);
            advance_unit_number(unit_number, unit_step);
        }
        status = cipher->encrypt_tweaks(cipher->context, tweaks[0], batch);
        for (size_t i = 0; i < batch && status == KLFS_OK; i++, done++)
            status = crypt_unit(cipher, direction, in + done * unit_size, out + done * unit_size,
                                unit_size, tweaks[i]);
    }
    // The tweaks (E_K2 of unit numbers) die here.
    klfs_wipe(tweaks, sizeof tweaks);
    return status;
}
