#ifndef KLFS_KEYLOCKER_H
#define KLFS_KEYLOCKER_H

#include "klfs_common.h"

// Entry points into the real Key Locker instructions (keylocker_x86_64.S).
// They raise SIGILL on a CPU without AESKLE unless the emulator is installed.

// ENCODEKEY256: key (K low 16 bytes in XMM0, high in XMM1) -> 64-byte handle.
// Returns the instruction's r32 result (IWKey NoBackup and KeySource bits).
// Clears XMM0-XMM6 before returning; the caller wipes `key`.
uint32_t klfs_kl_encodekey256(uint32_t restrictions, const uint8_t key[32],
                              uint8_t handle[64]);

// ENCODEKEY128: key in XMM0 -> 48-byte handle.
uint32_t klfs_kl_encodekey128(uint32_t restrictions, const uint8_t key[16],
                              uint8_t handle[48]);

// One AESENC256KL / AESDEC256KL on `block` in place. KLFS_OK, or KLFS_EHANDLE
// when ZF=1 (block untouched).
int klfs_kl_aesenc256kl(const uint8_t handle[64], uint8_t block[16]);
int klfs_kl_aesdec256kl(const uint8_t handle[64], uint8_t block[16]);

// One AESENCWIDE256KL / AESDECWIDE256KL on 8 blocks (128 bytes) in place.
int klfs_kl_aesencwide256kl(const uint8_t handle[64], uint8_t blocks[128]);
int klfs_kl_aesdecwide256kl(const uint8_t handle[64], uint8_t blocks[128]);

// ECB over `blocks` 16-byte blocks through one handle: one AESENC256KL or
// AESDEC256KL per block (the wide-block name mode needs single blocks, not
// the 8-block form). in == out is allowed. KLFS_OK, or KLFS_EHANDLE with
// `out` zeroed when any instruction refused the handle.
int klfs_kl_ecb_crypt(const uint8_t handle[64], klfs_direction direction,
                      const uint8_t *in, uint8_t *out, size_t blocks);

// XTS through Key Locker handles. Per data unit: one AESENC256KL makes the
// first tweak; then one AESENCWIDE256KL / AESDECWIDE256KL per 128 bytes with
// the 8 blocks in XMM0-7 and the tweaks in XMM8-15; tail blocks one at a
// time. ZF is checked after every KL instruction. Same contract as
// klfs_xts_crypt; on KLFS_EHANDLE the output is zeroed.
int klfs_kl_xts_crypt(const uint8_t data_handle[64], const uint8_t tweak_handle[64],
                      klfs_direction direction, const uint8_t *in, uint8_t *out,
                      size_t unit_size, size_t units, const uint8_t first_unit[16],
                      uint64_t unit_step);

#endif
