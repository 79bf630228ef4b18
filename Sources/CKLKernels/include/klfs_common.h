#ifndef KLFS_COMMON_H
#define KLFS_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

// Status codes shared by every kernel entry point.
enum {
    KLFS_OK = 0,
    // A Key Locker handle was refused: ZF=1 from the hardware, or the
    // software model's format, restriction or authentication check failed.
    // Output buffers hold no result when this is returned.
    KLFS_EHANDLE = -1,
    // Bad arguments (data unit shorter than 16 bytes, unknown key size,
    // reserved restriction bits).
    KLFS_EINVAL = -2,
    // The CPU lacks an instruction set the call needs.
    KLFS_EUNSUPPORTED = -3,
    // No secret memory for the call to run in (errno says why).
    KLFS_ENOMEM = -4,
    // No IWKey to wrap or unwrap with: a software Key Locker's store is
    // empty (klfs_iwkey_store_wipe, for a suspend). Output buffers hold no
    // result.
    KLFS_ENOKEY = -5,
};

typedef enum klfs_direction {
    KLFS_ENCRYPT = 0,
    KLFS_DECRYPT = 1,
} klfs_direction;

#define KLFS_AES_BLOCK_SIZE 16

#endif
