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
    if (units == 0) return KLFS_OK;
    uint8_t unit_number[16];
    memcpy(unit_number, first_unit, 16);
    // The tweaks of the current and the next unit. The next unit's tweak is
    // encrypted before the current unit's blocks, so its latency overlaps
    // the bulk work instead of stalling the start of every unit.
    uint8_t tweaks[2][16];
    memcpy(tweaks[0], unit_number, 16);
    int status = cipher->encrypt_tweak(cipher->context, tweaks[0]);
    for (size_t k = 0; k < units && status == KLFS_OK; k++) {
        uint8_t *tweak = tweaks[k & 1], *next_tweak = tweaks[(k + 1) & 1];
        advance_unit_number(unit_number, unit_step);
        if (k + 1 < units) {
            memcpy(next_tweak, unit_number, 16);
            status = cipher->encrypt_tweak(cipher->context, next_tweak);
        }
        if (status == KLFS_OK)
            status = crypt_unit(cipher, direction, in + k * unit_size, out + k * unit_size,
                                unit_size, tweak);
    }
    // The tweaks (E_K2 of unit numbers) die here.
    klfs_wipe(tweaks, sizeof tweaks);
    return status;
}
