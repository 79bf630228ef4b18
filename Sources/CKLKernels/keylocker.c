// XTS through real Key Locker handles: the generic XTS driver (xts.c) with
// the two operations of keylocker_x86_64.S. No key material exists here;
// the handles are opaque without the CPU's IWKey.
#include "klfs_keylocker.h"

#include "klfs_secret.h"
#include "klfs_xts.h"

#include <string.h>

// The klfs_xts_cipher context. keylocker_x86_64.S reads `data` at offset 0.
typedef struct xts_handles {
    const uint8_t *data;
    const uint8_t *tweak;
} xts_handles;

// The bulk loop in keylocker_x86_64.S, a klfs_xts_cipher.crypt_blocks over
// an xts_handles context.
int klfs_kl_xts_crypt_blocks(const void *handles, klfs_direction direction,
                             const uint8_t *in, uint8_t *out, size_t blocks,
                             uint8_t tweak[16]);

// One wide instruction for the whole batch, its unused blocks idle.
static int encrypt_tweaks(const void *context, uint8_t *blocks, size_t count) {
    const xts_handles *handles = context;
    uint8_t batch[KLFS_XTS_TWEAK_BATCH * 16] = {0};
    memcpy(batch, blocks, 16 * count);
    int status = klfs_kl_aesencwide256kl(handles->tweak, batch);
    memcpy(blocks, batch, 16 * count);
    // The encrypted tweaks' copies die here.
    klfs_wipe(batch, sizeof batch);
    return status;
}

int klfs_kl_xts_crypt(const uint8_t data_handle[64], const uint8_t tweak_handle[64],
                      klfs_direction direction, const uint8_t *in, uint8_t *out,
                      size_t unit_size, size_t units, const uint8_t first_unit[16],
                      uint64_t unit_step) {
    const xts_handles handles = {data_handle, tweak_handle};
    const klfs_xts_cipher cipher = {
        .context = &handles,
        .encrypt_tweaks = encrypt_tweaks,
        .crypt_blocks = klfs_kl_xts_crypt_blocks,
    };
    int status = klfs_xts_crypt(&cipher, direction, in, out, unit_size, units, first_unit, unit_step);
    // A refused handle may strike mid-buffer: leave no partial result behind.
    if (status == KLFS_EHANDLE) memset(out, 0, unit_size * units);
    return status;
}

int klfs_kl_ecb_crypt(const uint8_t handle[64], klfs_direction direction,
                      const uint8_t *in, uint8_t *out, size_t blocks) {
    int (*const one_block)(const uint8_t *, uint8_t *) =
        direction == KLFS_ENCRYPT ? klfs_kl_aesenc256kl : klfs_kl_aesdec256kl;
    for (size_t i = 0; i < blocks; i++) {
        uint8_t *block = out + 16 * i;
        if (block != in + 16 * i) memmove(block, in + 16 * i, 16);
        if (one_block(handle, block) != KLFS_OK) {
            // A refused handle leaves no partial result behind.
            memset(out, 0, 16 * blocks);
            return KLFS_EHANDLE;
        }
    }
    return KLFS_OK;
}
