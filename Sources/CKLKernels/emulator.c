// The Key Locker emulator: answers CPUID (made to fault with
// ARCH_SET_CPUID) as a CPU with Key Locker, and executes every KL
// instruction that raises #UD from the interrupted context, on the software
// Key Locker model, with the IWKey of the machine the thread runs on
// (emulator_machine.c). docs/EMULATOR.md lists the effects reproduced. Both
// signal handlers are async-signal-safe: no allocation, no locks, no stdio.
#define _GNU_SOURCE
#include "klfs_emulator.h"

#include "emulator_decode.h"
#include "emulator_machine.h"
#include "klfs_aes.h"
#include "klfs_secret.h"
#include "klfs_softkl.h"

#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

// ---- counters --------------------------------------------------------------

enum { COUNT_CPUID, COUNT_FIRST_KL, COUNT_KINDS = COUNT_FIRST_KL + KLFS_KL_OPCODE_COUNT };

// initial-exec: a handler must not reach __tls_get_addr, which may allocate.
static _Thread_local uint64_t thread_counts[COUNT_KINDS]
    __attribute__((tls_model("initial-exec")));
static _Atomic uint64_t process_counts[COUNT_KINDS];

static void count(unsigned kind) {
    thread_counts[kind]++;
    atomic_fetch_add_explicit(&process_counts[kind], 1, memory_order_relaxed);
}

static void export_counts(const uint64_t counts[COUNT_KINDS], klfs_emulator_counters *out) {
    const uint64_t *kl = counts + COUNT_FIRST_KL;
    *out = (klfs_emulator_counters){
        .cpuid = counts[COUNT_CPUID],
        .encodekey128 = kl[KLFS_KL_ENCODEKEY128],
        .encodekey256 = kl[KLFS_KL_ENCODEKEY256],
        .aesenc128kl = kl[KLFS_KL_AESENC128KL],
        .aesdec128kl = kl[KLFS_KL_AESDEC128KL],
        .aesenc256kl = kl[KLFS_KL_AESENC256KL],
        .aesdec256kl = kl[KLFS_KL_AESDEC256KL],
        .aesencwide128kl = kl[KLFS_KL_AESENCWIDE128KL],
        .aesdecwide128kl = kl[KLFS_KL_AESDECWIDE128KL],
        .aesencwide256kl = kl[KLFS_KL_AESENCWIDE256KL],
        .aesdecwide256kl = kl[KLFS_KL_AESDECWIDE256KL],
    };
}

void klfs_emulator_thread_counters(klfs_emulator_counters *counters) {
    export_counts(thread_counts, counters);
}

void klfs_emulator_process_counters(klfs_emulator_counters *counters) {
    uint64_t snapshot[COUNT_KINDS];
    for (unsigned i = 0; i < COUNT_KINDS; i++)
        snapshot[i] = atomic_load_explicit(&process_counts[i], memory_order_relaxed);
    export_counts(snapshot, counters);
}

// ---- process-wide state, written once by install ---------------------------

static struct sigaction previous_sigill, previous_sigsegv;
static atomic_bool handlers_installed;

// ---- the interrupted context -----------------------------------------------

enum {
    FLAG_CF = 1u << 0,
    FLAG_PF = 1u << 2,
    FLAG_AF = 1u << 4,
    FLAG_ZF = 1u << 6,
    FLAG_SF = 1u << 7,
    FLAG_OF = 1u << 11,
    ARITHMETIC_FLAGS = FLAG_CF | FLAG_PF | FLAG_AF | FLAG_ZF | FLAG_SF | FLAG_OF,
};

// ModRM register number -> index in uc_mcontext.gregs.
static const int greg_of_register[16] = {
    REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP, REG_RSI, REG_RDI,
    REG_R8,  REG_R9,  REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
};

static void set_flags(ucontext_t *uc, bool zf) {
    greg_t flags = uc->uc_mcontext.gregs[REG_EFL] & ~(greg_t)ARITHMETIC_FLAGS;
    uc->uc_mcontext.gregs[REG_EFL] = flags | (zf ? FLAG_ZF : 0);
}

// The kernel saves the FPU state with XSAVE. When every XMM register was zero
// the CPU may have left the SSE component in its init state: XSTATE_BV bit 1
// clear, the XMM slots of the frame stale, and sigreturn would reload zeros
// over anything written there. Materializing the state (zeros in the slots,
// bit set) makes the slots both true on read and honored on sigreturn.
enum {
    FXSAVE_SW_RESERVED_OFFSET = 464, // struct _fpx_sw_bytes: magic1 FP_XSTATE_MAGIC1
    XSAVE_HEADER_OFFSET = 512,       // struct _xsave_hdr: xstate_bv
    XFEATURE_SSE = 1u << 1,
};

static struct _libc_xmmreg *live_xmm_registers(ucontext_t *uc) {
    struct _libc_fpstate *fpu = uc->uc_mcontext.fpregs;
    uint8_t *area = (uint8_t *)fpu;
    uint32_t magic;
    memcpy(&magic, area + FXSAVE_SW_RESERVED_OFFSET, sizeof magic);
    if (magic != FP_XSTATE_MAGIC1) return fpu->_xmm; // plain FXSAVE frame
    uint64_t xstate_bv;
    memcpy(&xstate_bv, area + XSAVE_HEADER_OFFSET, sizeof xstate_bv);
    if (!(xstate_bv & XFEATURE_SSE)) {
        memset(fpu->_xmm, 0, sizeof fpu->_xmm);
        xstate_bv |= XFEATURE_SSE;
        memcpy(area + XSAVE_HEADER_OFFSET, &xstate_bv, sizeof xstate_bv);
    }
    return fpu->_xmm;
}

// ---- CPUID -----------------------------------------------------------------

enum {
    CPUID7_ECX_KL = 1u << 23,
    LEAF19_EAX_ALL_RESTRICTIONS = 7,         // CPL0-only, no-encrypt, no-decrypt
    LEAF19_EBX_AESKLE_WIDE_BACKUP = (1u << 0) | (1u << 2) | (1u << 4),
    LEAF19_ECX_NOBACKUP_RANDOM = (1u << 0) | (1u << 1),
    KEYLOCKER_LEAF = 0x19,
};

static void set_cpuid_faulting(bool faulting) {
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, faulting ? 0 : 1);
}

static void emulate_cpuid(ucontext_t *uc) {
    greg_t *gregs = uc->uc_mcontext.gregs;
    uint32_t leaf = (uint32_t)gregs[REG_RAX], subleaf = (uint32_t)gregs[REG_RCX];
    uint32_t eax, ebx, ecx, edx;
    set_cpuid_faulting(false);
    __cpuid_count(leaf, subleaf, eax, ebx, ecx, edx);
    set_cpuid_faulting(true);

    if (leaf == 0 && eax < KEYLOCKER_LEAF) eax = KEYLOCKER_LEAF;
    if (leaf == 7 && subleaf == 0) ecx |= CPUID7_ECX_KL;
    if (leaf == KEYLOCKER_LEAF) {
        eax = LEAF19_EAX_ALL_RESTRICTIONS;
        ebx = LEAF19_EBX_AESKLE_WIDE_BACKUP;
        ecx = LEAF19_ECX_NOBACKUP_RANDOM;
        edx = 0;
    }
    // 32-bit results zero-extend into the 64-bit registers.
    gregs[REG_RAX] = eax;
    gregs[REG_RBX] = ebx;
    gregs[REG_RCX] = ecx;
    gregs[REG_RDX] = edx;
    gregs[REG_RIP] += 2;
    count(COUNT_CPUID);
}

static bool is_faulting_cpuid(const siginfo_t *info, const ucontext_t *uc) {
    const uint8_t *rip = (const uint8_t *)uc->uc_mcontext.gregs[REG_RIP];
    return info->si_code == SI_KERNEL && rip[0] == 0x0F && rip[1] == 0xA2;
}

// ---- Key Locker instructions -----------------------------------------------

enum { RESTRICTION_BITS = 7 };

// Where the hardware raises #GP, the emulator stops the process rather than
// pretend a SIGSEGV that the program could not tell from a memory fault; so
// it does when it has no secret memory to unwrap a handle in.
static _Noreturn void stop_emulation(const char *message) {
    ssize_t ignored = write(STDERR_FILENO, message, strlen(message));
    (void)ignored;
    abort();
}

// The IWKey of the machine this thread runs on, held whole for one
// instruction however LOADIWKEY or a restore races it on another thread.
typedef struct held_iwkey {
    klfs_iwkey_store *store;
    int ticket;
    const klfs_iwkey *iwkey;
} held_iwkey;

static held_iwkey hold_iwkey(void) {
    held_iwkey held = {.store = klfs_emulator_current_machine()->iwkeys};
    held.iwkey = klfs_iwkey_store_acquire(held.store, &held.ticket);
    // Machines boot with an IWKey and only ever replace it.
    if (held.iwkey == NULL) stop_emulation("klfs emulator: the machine has no IWKey\n");
    return held;
}

static void let_go(const held_iwkey *held) { klfs_iwkey_store_release(held->store, held->ticket); }

static void emulate_encodekey(const klfs_kl_instruction *insn, ucontext_t *uc,
                              struct _libc_xmmreg *xmm) {
    greg_t *gregs = uc->uc_mcontext.gregs;
    uint32_t restrictions = (uint32_t)gregs[greg_of_register[insn->rm]];
    if (restrictions & ~(uint32_t)RESTRICTION_BITS)
        stop_emulation("klfs emulator: ENCODEKEY with reserved restriction bits (#GP)\n");

    bool wide_key = insn->opcode == KLFS_KL_ENCODEKEY256;
    unsigned key_registers = wide_key ? 2 : 1, handle_registers = wide_key ? 4 : 3;
    uint8_t key[32], handle[KLFS_HANDLE256_SIZE];
    memcpy(key, xmm, 16 * key_registers);
    held_iwkey held = hold_iwkey();
    int status = klfs_softkl_encode_key(held.iwkey, restrictions, key, wide_key ? 256 : 128, handle);
    // IWKey.NoBackup and IWKey.KeySource of the IWKey that did the wrapping.
    uint32_t result = held.iwkey->attributes;
    let_go(&held);
    klfs_wipe(key, sizeof key); // the raw key dies here; XMM0/1 are overwritten below
    if (status != KLFS_OK) stop_emulation("klfs emulator: ENCODEKEY refused by the model\n");

    memcpy(xmm, handle, 16 * handle_registers);
    memset(xmm + handle_registers, 0, 16 * (7 - handle_registers)); // up to XMM6
    klfs_wipe(handle, sizeof handle);
    gregs[greg_of_register[insn->reg]] = result; // r32 write zero-extends
    set_flags(uc, false);
}

// What each AES*KL instruction does with its handle and registers.
typedef struct aes_kl_shape {
    unsigned key_bits;
    klfs_direction direction;
    bool wide; // XMM0-7 in place; otherwise the ModRM.reg register
} aes_kl_shape;

static const aes_kl_shape aes_kl_shapes[KLFS_KL_OPCODE_COUNT] = {
    [KLFS_KL_AESENC128KL] = {128, KLFS_ENCRYPT, false},
    [KLFS_KL_AESDEC128KL] = {128, KLFS_DECRYPT, false},
    [KLFS_KL_AESENC256KL] = {256, KLFS_ENCRYPT, false},
    [KLFS_KL_AESDEC256KL] = {256, KLFS_DECRYPT, false},
    [KLFS_KL_AESENCWIDE128KL] = {128, KLFS_ENCRYPT, true},
    [KLFS_KL_AESDECWIDE128KL] = {128, KLFS_DECRYPT, true},
    [KLFS_KL_AESENCWIDE256KL] = {256, KLFS_ENCRYPT, true},
    [KLFS_KL_AESDECWIDE256KL] = {256, KLFS_DECRYPT, true},
};

static void emulate_aes(const klfs_kl_instruction *insn, ucontext_t *uc,
                        struct _libc_xmmreg *xmm) {
    const aes_kl_shape *shape = &aes_kl_shapes[insn->opcode];
    struct _libc_xmmreg *blocks = shape->wide ? xmm : xmm + insn->reg;
    size_t block_count = shape->wide ? 8 : 1;

    uint8_t handle[KLFS_HANDLE256_SIZE];
    memcpy(handle, (const void *)(uintptr_t)insn->address,
           shape->key_bits == 256 ? KLFS_HANDLE256_SIZE : KLFS_HANDLE128_SIZE);
    klfs_aes_key schedule;
    held_iwkey held = hold_iwkey();
    int status = klfs_softkl_load_key(held.iwkey, handle, shape->key_bits,
                                      shape->direction == KLFS_ENCRYPT ? &schedule : NULL,
                                      shape->direction == KLFS_DECRYPT ? &schedule : NULL);
    let_go(&held);
    if (status == KLFS_OK) {
        uint8_t data[8 * KLFS_AES_BLOCK_SIZE];
        memcpy(data, blocks, block_count * KLFS_AES_BLOCK_SIZE);
        if (shape->direction == KLFS_DECRYPT)
            klfs_aes_decrypt_blocks(&schedule, data, data, block_count);
        else
            klfs_aes_encrypt_blocks(&schedule, data, data, block_count);
        memcpy(blocks, data, block_count * KLFS_AES_BLOCK_SIZE);
        klfs_wipe(data, sizeof data);
    }
    klfs_wipe(&schedule, sizeof schedule); // the unwrapped key's round keys die here
    set_flags(uc, status != KLFS_OK);
}

static void emulate_keylocker(const klfs_kl_instruction *insn, ucontext_t *uc) {
    struct _libc_xmmreg *xmm = live_xmm_registers(uc);
    if (insn->opcode == KLFS_KL_ENCODEKEY128 || insn->opcode == KLFS_KL_ENCODEKEY256)
        emulate_encodekey(insn, uc, xmm);
    else
        emulate_aes(insn, uc, xmm);
    uc->uc_mcontext.gregs[REG_RIP] += insn->length;
    count(COUNT_FIRST_KL + insn->opcode);
}

// The emulation of one instruction runs on the thread's secret stack, so
// the raw keys it unwraps or wraps, their round keys and the blocks it
// works on never touch the ordinary stack.
typedef struct kl_trap {
    const klfs_kl_instruction *insn;
    ucontext_t *uc;
} kl_trap;

static int emulate_keylocker_on_secret_stack(void *argument) {
    const kl_trap *trap = argument;
    emulate_keylocker(trap->insn, trap->uc);
    return KLFS_OK;
}

static bool decode_faulting_instruction(const siginfo_t *info, const ucontext_t *uc,
                                        klfs_kl_instruction *insn) {
    if (info->si_code != ILL_ILLOPN && info->si_code != ILL_ILLOPC) return false;
    const greg_t *gregs = uc->uc_mcontext.gregs;
    uint64_t gpr[16];
    for (unsigned i = 0; i < 16; i++) gpr[i] = (uint64_t)gregs[greg_of_register[i]];
    uint64_t rip = (uint64_t)gregs[REG_RIP];
    return klfs_kl_decode((const uint8_t *)(uintptr_t)rip, rip, gpr, insn);
}

// ---- signal plumbing -------------------------------------------------------

// Hands a signal that is not ours to the action it replaced, as if the
// emulator were not there: with the signal mask that action asked for
// (sigreturn restores the interrupted one).
static void chain(int signal_number, siginfo_t *info, void *context,
                  const struct sigaction *previous) {
    sigset_t mask = previous->sa_mask;
    if (!(previous->sa_flags & SA_NODEFER)) sigaddset(&mask, signal_number);
    pthread_sigmask(SIG_BLOCK, &mask, NULL);
    if (previous->sa_flags & SA_SIGINFO) {
        previous->sa_sigaction(signal_number, info, context);
        return;
    }
    if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(signal_number);
        return;
    }
    // Default action. SIG_IGN gets it too: ignoring a fault would re-execute
    // the faulting instruction forever. A fault re-raises itself when the
    // handler returns; a signal sent by kill() must be raised again.
    struct sigaction default_action = {.sa_handler = SIG_DFL};
    sigemptyset(&default_action.sa_mask);
    sigaction(signal_number, &default_action, NULL);
    if (info->si_code <= 0) raise(signal_number);
}

static void on_sigsegv(int signal_number, siginfo_t *info, void *context) {
    int saved_errno = errno;
    ucontext_t *uc = context;
    if (is_faulting_cpuid(info, uc))
        emulate_cpuid(uc);
    else
        chain(signal_number, info, context, &previous_sigsegv);
    errno = saved_errno;
}

static void on_sigill(int signal_number, siginfo_t *info, void *context) {
    int saved_errno = errno;
    ucontext_t *uc = context;
    klfs_kl_instruction insn;
    if (decode_faulting_instruction(info, uc, &insn)) {
        kl_trap trap = {&insn, uc};
        if (klfs_run_on_secret_stack(emulate_keylocker_on_secret_stack, &trap) != KLFS_OK)
            stop_emulation("klfs emulator: no secret memory to run a Key Locker instruction in\n");
    } else
        chain(signal_number, info, context, &previous_sigill);
    errno = saved_errno;
}

// Reads the action being replaced before installing ours, so a signal that
// arrives in between never finds previous_* half written.
static int replace_action(int signal_number, void (*handler)(int, siginfo_t *, void *),
                          int extra_flags, struct sigaction *previous) {
    struct sigaction action = {.sa_sigaction = handler, .sa_flags = SA_SIGINFO | extra_flags};
    sigemptyset(&action.sa_mask);
    if (sigaction(signal_number, NULL, previous) != 0) return -errno;
    if (sigaction(signal_number, &action, NULL) != 0) return -errno;
    return 0;
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_status;

static void install_process_wide(void) {
    install_status = klfs_emulator_boot_default_machine();
    if (install_status != 0) return;
    // SA_NODEFER: our handlers run with the interrupted mask, so a handler
    // we chain to sees the mask it asked for (chain() blocks what it needs);
    // Swift's backtracer, for one, catches its own SIGSEGVs while it reads
    // memory and dies if SIGSEGV is blocked. SIGSEGV also reports stack
    // overflows, so it takes the alternate stack; SIGILL needs none, since
    // KL emulation moves to the thread's secret stack by itself.
    install_status = replace_action(SIGILL, on_sigill, SA_NODEFER, &previous_sigill);
    if (install_status == 0)
        install_status = replace_action(SIGSEGV, on_sigsegv, SA_NODEFER | SA_ONSTACK,
                                        &previous_sigsegv);
    if (install_status == 0) atomic_store(&handlers_installed, true);
}

int klfs_emulator_install(void) {
    pthread_once(&install_once, install_process_wide);
    if (install_status != 0) return install_status;
    // CPUID faulting is a per-thread switch (inherited by threads created later).
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) return -errno;
    return 0;
}

bool klfs_emulator_is_installed(void) { return atomic_load(&handlers_installed); }
