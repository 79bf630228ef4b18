#ifndef KLFS_SECRET_H
#define KLFS_SECRET_H

#include "klfs_common.h"

// Where a secret allocation lives.
typedef enum klfs_secret_backing {
    // memfd_secret(2): removed from the kernel's direct map, unreadable
    // through /proc/PID/mem, never in a core dump, locked.
    KLFS_SECRET_MEMFD_SECRET = 1,
    // Fallback: anonymous memory with mlock, MADV_DONTDUMP, MADV_WIPEONFORK.
    KLFS_SECRET_LOCKED_ANONYMOUS = 2,
} klfs_secret_backing;

// Zeroed, page-aligned memory for `size` bytes (rounded up to pages). Tries
// memfd_secret first unless `allow_memfd_secret` is false. Returns NULL and
// sets errno when neither backing can be had.
void *klfs_secret_alloc(size_t size, bool allow_memfd_secret, klfs_secret_backing *backing);

// Wipes and unmaps memory from klfs_secret_alloc.
void klfs_secret_free(void *memory, size_t size);

// Wipes memory in a way the compiler may not elide, then the vector
// registers, which may still hold what the memory held.
void klfs_wipe(void *memory, size_t size);

// Zeroes every SIMD register (xmm/ymm/zmm 0-31 as the CPU has them), so
// that no key outlives its function in a register and reaches a signal
// frame on the stack.
void klfs_clear_vector_registers(void);

// Runs body(argument) on this thread's secret stack: memory from
// klfs_secret_alloc (memfd_secret where the kernel grants it), made for the
// thread on its first call and freed, wiped, when the thread exits. Before
// returning it wipes what the call left on that stack and clears the vector
// registers. A call made from code already running there runs in place.
// Returns body's result, or KLFS_ENOMEM (errno set) when no secret memory
// could be had and body did not run.
int klfs_run_on_secret_stack(int (*body)(void *), void *argument);

// Bytes in the scope slot.
#define KLFS_SECRET_SLOT_SIZE 1024

// This thread's scope slot: KLFS_SECRET_SLOT_SIZE bytes of secret memory,
// 64-byte aligned, beside its secret stack, for keys a caller keeps across a
// short run of crypto calls with no I/O between them. NULL when no secret
// memory could be had (errno set) or the slot is in use already.
void *klfs_secret_slot_acquire(void);

// Wipes the slot (and the vector registers) and gives it back.
void klfs_secret_slot_release(void);

// Fills `buffer` from getrandom(2). Returns 0, or -errno.
int klfs_random_bytes(void *buffer, size_t size);

// Whether this kernel grants memfd_secret(2) to this process.
bool klfs_memfd_secret_available(void);

// prctl(PR_SET_DUMPABLE, 0): no core dump of this process, and its
// /proc/PID files (mem, maps, environ) and ptrace refused to anyone but a
// root with CAP_SYS_PTRACE. Returns 0, or -errno.
int klfs_forbid_core_dumps(void);

#endif
