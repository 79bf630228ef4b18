#ifndef KLFS_EMULATOR_H
#define KLFS_EMULATOR_H

#include "klfs_common.h"
#include "klfs_softkl.h"
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
// the handlers they replace for anything that is not ours), boots the
// default machine (once: its IWKey in secret memory), and turns on CPUID faulting
// for the calling thread; threads it creates afterwards inherit that.
// Call it again from any other thread that must see the emulated CPUID.
// Returns 0 or -errno (e.g. -ENODEV without CPUID faulting).
int klfs_emulator_install(void);

bool klfs_emulator_is_installed(void);

// Instructions emulated on the calling thread / in the whole process.
void klfs_emulator_thread_counters(klfs_emulator_counters *counters);
void klfs_emulator_process_counters(klfs_emulator_counters *counters);

// ---- The IWKey life cycle (docs/EMULATOR.md, "The IWKey life cycle") -------
//
// LOADIWKEY and the backup MSRs are ring 0 only; these calls stand in for
// the kernel executing them. All are thread-safe against each other and
// against Key Locker instructions emulated meanwhile on other threads: an
// instruction uses the IWKey from before a change or the one after it,
// whole. Never call them from a signal handler.

// An emulated machine: the IWKey of its logical processors (the OS loads
// the same one on each, so the model keeps one) and its platform-scoped
// storage for the IWKey backup, both in secret memory. Install boots the
// default machine, which every thread runs on unless moved to another
// (tests use machines of their own, so that changing an IWKey disturbs
// nobody else's handles).
typedef struct klfs_emulated_machine klfs_emulated_machine;

// The machine install booted; NULL before install.
klfs_emulated_machine *klfs_emulator_default_machine(void);

// A new machine, booted as the default one is: an IWKey from LOADIWKEY
// with KeySource 1 and backups allowed, no backup taken yet. NULL with
// errno set when secret memory or getrandom fails.
klfs_emulated_machine *klfs_emulator_machine_create(void);

// Wipes a machine's IWKey and backup and frees it. No thread may be
// running on it. The default machine is never destroyed.
void klfs_emulator_machine_destroy(klfs_emulated_machine *machine);

// The machine the calling thread's Key Locker instructions run on.
klfs_emulated_machine *klfs_emulator_current_machine(void);

// Runs the calling thread's Key Locker instructions on `machine` (NULL: the
// default machine) from now on. Returns what to pass to switch back: the
// thread's previous choice, NULL when it was the default.
klfs_emulated_machine *klfs_emulator_switch_machine(klfs_emulated_machine *machine);

// What one LOADIWKEY costs, in TSC ticks (rdtsc), burnt before the new
// IWKey takes effect. Per machine; defaults 130 and 25,000, the published
// figures for a software key and for the hardware random source.
typedef struct klfs_loadiwkey_cost {
    uint64_t software_key_cycles; // KeySource 0
    uint64_t random_key_cycles;   // KeySource 1
} klfs_loadiwkey_cost;

void klfs_emulator_loadiwkey_cost(const klfs_emulated_machine *machine, klfs_loadiwkey_cost *cost);
void klfs_emulator_set_loadiwkey_cost(klfs_emulated_machine *machine, const klfs_loadiwkey_cost *cost);

// LOADIWKEY on every processor of `machine`. `attributes` is the
// instruction's EAX (KLFS_IWKEY_NO_BACKUP, KeySource 0 or 1 in bits 4:1,
// klfs_softkl.h), which ENCODEKEY reports from then on. `operands` is the
// key material of its register operands, 48 bytes (the integrity key, as
// XMM0, then the encryption key), or NULL for 48 bytes from getrandom, as
// a kernel would choose them. KeySource 1 XORs getrandom output (standing
// in for the hardware random source) into them, so the same operands never
// give the same IWKey twice. Handles wrapped under the previous IWKey fail
// from then on (ZF=1), unless it comes back (the same KeySource 0
// operands, or a restore from backup). `cycles`, if not NULL, receives the
// TSC ticks the call took, at least the configured cost.
// Returns KLFS_OK; KLFS_EINVAL where the CPU raises #GP (reserved EAX bits,
// KeySource above 1); -errno when getrandom fails (the CPU's ZF=1: the IWKey
// is unchanged); KLFS_ENOMEM without secret memory.
int klfs_emulator_load_iwkey(klfs_emulated_machine *machine, uint32_t attributes,
                             const uint8_t operands[48], uint64_t *cycles);

// The IWKey backup MSRs (Key Locker spec 343965).
enum {
    // Write-only. Bit 0 = 1 copies the IWKey to platform-scoped storage,
    // unless the IWKey was loaded with NoBackup.
    KLFS_MSR_IA32_COPY_LOCAL_TO_PLATFORM = 0xD91,
    // Write-only. Bit 0 = 1 loads the backed-up IWKey, if one is valid.
    KLFS_MSR_IA32_COPY_PLATFORM_TO_LOCAL = 0xD92,
    // Read-only. Bit 0: the last copy, either way, succeeded.
    KLFS_MSR_IA32_COPY_STATUS = 0x990,
    // Read-only. Bit 0 backup valid, bit 2 backup storage read/write error
    // (never set here), bit 3 IWKeyBackup consumed.
    KLFS_MSR_IA32_IWKEYBACKUP_STATUS = 0x991,
};

enum {
    KLFS_COPY_COMMAND = 1u << 0,
    KLFS_COPY_STATUS_SUCCESS = 1u << 0,
    KLFS_IWKEYBACKUP_VALID = 1u << 0,
    KLFS_IWKEYBACKUP_STORAGE_ERROR = 1u << 2,
    KLFS_IWKEYBACKUP_CONSUMED = 1u << 3,
};

// WRMSR and RDMSR of the four MSRs above on `machine`. KLFS_OK, or
// KLFS_EINVAL where the CPU raises #GP: another MSR, a read of a write-only
// MSR or a write of a read-only one, reserved bits in the value written.
// A restore can also return KLFS_ENOMEM (no secret memory to run in; the
// copy is reported failed).
int klfs_emulator_write_msr(klfs_emulated_machine *machine, uint32_t msr, uint64_t value);
int klfs_emulator_read_msr(klfs_emulated_machine *machine, uint32_t msr, uint64_t *value);

#endif
