// Secret memory: memfd_secret(2) when the kernel grants it, else locked
// anonymous memory kept out of core dumps and children.
#define _GNU_SOURCE
#include "klfs_secret.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

// Debian 12's headers predate the syscall number (x86-64, Linux 5.14).
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif

// Registers outlive the memory they were loaded from: a signal frame (the
// emulator's SIGSEGV and SIGILL, any other signal) later spills them onto
// the thread's stack. glibc's memcpy and explicit_bzero use ymm16-31 and
// the upper lanes, so every vector register goes, not just xmm0-15. The
// System V ABI makes all of them caller-saved, so a call may clobber them.
__attribute__((target("avx512f"))) static void clear_zmm_registers(void) {
    __asm__ volatile(
        "vzeroall\n\t"
        "vpxord %%xmm16, %%xmm16, %%xmm16\n\tvpxord %%xmm17, %%xmm17, %%xmm17\n\t"
        "vpxord %%xmm18, %%xmm18, %%xmm18\n\tvpxord %%xmm19, %%xmm19, %%xmm19\n\t"
        "vpxord %%xmm20, %%xmm20, %%xmm20\n\tvpxord %%xmm21, %%xmm21, %%xmm21\n\t"
        "vpxord %%xmm22, %%xmm22, %%xmm22\n\tvpxord %%xmm23, %%xmm23, %%xmm23\n\t"
        "vpxord %%xmm24, %%xmm24, %%xmm24\n\tvpxord %%xmm25, %%xmm25, %%xmm25\n\t"
        "vpxord %%xmm26, %%xmm26, %%xmm26\n\tvpxord %%xmm27, %%xmm27, %%xmm27\n\t"
        "vpxord %%xmm28, %%xmm28, %%xmm28\n\tvpxord %%xmm29, %%xmm29, %%xmm29\n\t"
        "vpxord %%xmm30, %%xmm30, %%xmm30\n\tvpxord %%xmm31, %%xmm31, %%xmm31"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
            "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",
            "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24",
            "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
}

__attribute__((target("avx"))) static void clear_ymm_registers(void) {
    __asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
                     "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14",
                     "xmm15");
}

static void clear_xmm_registers(void) {
    __asm__ volatile(
        "pxor %%xmm0, %%xmm0\n\tpxor %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
        "pxor %%xmm3, %%xmm3\n\tpxor %%xmm4, %%xmm4\n\tpxor %%xmm5, %%xmm5\n\t"
        "pxor %%xmm6, %%xmm6\n\tpxor %%xmm7, %%xmm7\n\tpxor %%xmm8, %%xmm8\n\t"
        "pxor %%xmm9, %%xmm9\n\tpxor %%xmm10, %%xmm10\n\tpxor %%xmm11, %%xmm11\n\t"
        "pxor %%xmm12, %%xmm12\n\tpxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\t"
        "pxor %%xmm15, %%xmm15"
        ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
            "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

// __builtin_cpu_supports reads what libgcc's constructor cached (OS support
// included), so it runs no CPUID: safe inside the emulator's handlers.
void klfs_clear_vector_registers(void) {
    if (__builtin_cpu_supports("avx512f")) clear_zmm_registers();
    else if (__builtin_cpu_supports("avx")) clear_ymm_registers();
    else clear_xmm_registers();
}

void klfs_wipe(void *memory, size_t size) {
    if (memory != NULL && size != 0) explicit_bzero(memory, size);
    klfs_clear_vector_registers();
}

static size_t round_up_to_pages(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (size == 0) return page;
    if (size > SIZE_MAX - (page - 1)) return 0;
    return (size + page - 1) & ~(page - 1);
}

// Unmaps without disturbing the errno that explains the failure.
static void *fail_and_unmap(void *memory, size_t size, int error) {
    if (memory != MAP_FAILED) munmap(memory, size);
    errno = error;
    return NULL;
}

// The fd only names the secret pages while they are mapped; the mapping
// keeps them alive after close. secretmem pages are unevictable, and
// MAP_LOCKED makes that explicit against RLIMIT_MEMLOCK.
static void *map_memfd_secret(size_t size) {
    int fd = (int)syscall(SYS_memfd_secret, (unsigned long)O_CLOEXEC);
    if (fd < 0) return NULL;
    void *memory = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) == 0)
        memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_LOCKED, fd, 0);
    int error = errno;
    close(fd);
    if (memory == MAP_FAILED) return fail_and_unmap(memory, size, error);
    return memory;
}

// Anonymous pages are zero-filled; lock them so they never reach swap, and
// keep them out of core dumps and out of children made by fork.
static void *map_locked_anonymous(size_t size) {
    void *memory = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) return NULL;
    if (mlock(memory, size) != 0 || madvise(memory, size, MADV_DONTDUMP) != 0 ||
        madvise(memory, size, MADV_WIPEONFORK) != 0)
        return fail_and_unmap(memory, size, errno);
    return memory;
}

void *klfs_secret_alloc(size_t size, bool allow_memfd_secret, klfs_secret_backing *backing) {
    size_t mapped = round_up_to_pages(size);
    if (mapped == 0) {
        errno = ENOMEM;
        return NULL;
    }
    void *memory = NULL;
    if (allow_memfd_secret && klfs_memfd_secret_available()) {
        memory = map_memfd_secret(mapped);
        if (memory != NULL) {
            if (backing) *backing = KLFS_SECRET_MEMFD_SECRET;
            return memory;
        }
    }
    memory = map_locked_anonymous(mapped);
    if (memory != NULL && backing) *backing = KLFS_SECRET_LOCKED_ANONYMOUS;
    return memory;
}

void klfs_secret_free(void *memory, size_t size) {
    if (memory == NULL) return;
    size_t mapped = round_up_to_pages(size);
    klfs_wipe(memory, mapped);
    munmap(memory, mapped);
}

int klfs_random_bytes(void *buffer, size_t size) {
    uint8_t *next = buffer;
    while (size > 0) {
        ssize_t got = getrandom(next, size, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        next += got;
        size -= (size_t)got;
    }
    return 0;
}

static bool memfd_secret_works;
static pthread_once_t memfd_secret_probe_once = PTHREAD_ONCE_INIT;

// A full create-size-map cycle, not just the syscall: the fd can be granted
// while the locked mapping is refused (RLIMIT_MEMLOCK, memory cgroup).
static void probe_memfd_secret(void) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *memory = map_memfd_secret(page);
    memfd_secret_works = memory != NULL;
    if (memory != NULL) munmap(memory, page);
}

bool klfs_memfd_secret_available(void) {
    pthread_once(&memfd_secret_probe_once, probe_memfd_secret);
    return memfd_secret_works;
}

int klfs_forbid_core_dumps(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0 ? 0 : -errno;
}
