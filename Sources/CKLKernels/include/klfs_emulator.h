#ifndef KLFS_EMULATOR_H
#define KLFS_EMULATOR_H

#include "klfs_common.h"
#include <stdbool.h>

// An instruction-level Key Locker emulator for CPUs and kernels without one.
// CPUID faulting (arch_prctl ARCH_SET_CPUID) makes CPUID trap, and the
// handler answers leaves 7 and 0x19 as a CPU with Key Locker present,
// enabled (AESKLE) and wide. Every KL instruction raises #UD (SIGILL) here;
// the handler decodes it from the saved context and executes it on the
// software Key Locker model with the SDM's effects on registers and flags.

// How many instructions of each kind the emulator executed.
typedef struct klfs_emulator_counters {
    uint64_t cpuid;
    uint64_t encodekey128;
    uint64_t encodekey256;
    uint64_t aesenc128kl;
    uint64_t aesdec128kl;
    uint64_t aesenc256kl;
    uint64_t aesdec256kl;
    uint64_t aesencwide128kl;
    uint64_t aesdecwide128kl;
    uint64_t aesencwide256kl;
    uint64_t aesdecwide256kl;
} klfs_emulator_counters;

// Installs the SIGILL and SIGSEGV handlers (once per process, chaining to
// the handlers they replace for anything that is not ours), creates the
// emulated CPU's IWKey (once, in secret memory), and turns on CPUID faulting
// for the calling thread; threads it creates afterwards inherit that.
// Call it again from any other thread that must see the emulated CPUID.
// Returns 0 or -errno (e.g. -ENODEV without CPUID faulting).
int klfs_emulator_install(void);

bool klfs_emulator_is_installed(void);

// Instructions emulated on the calling thread / in the whole process.
void klfs_emulator_thread_counters(klfs_emulator_counters *counters);
void klfs_emulator_process_counters(klfs_emulator_counters *counters);

#endif
