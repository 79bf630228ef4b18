// Emulated machines: creating and destroying them, and which one each
// thread's Key Locker instructions run on.
#include "emulator_machine.h"

#include <errno.h>
#include <stdlib.h>

// The IWKey a machine boots with: LOADIWKEY with KeySource 1, backups
// allowed, as the Linux Key Locker series loads it.
enum {
    BOOT_ATTRIBUTES = KLFS_IWKEY_KEY_SOURCE_RANDOM << KLFS_IWKEY_KEY_SOURCE_SHIFT,
    DEFAULT_SOFTWARE_KEY_CYCLES = 130,
    DEFAULT_RANDOM_KEY_CYCLES = 25000,
};

static klfs_emulated_machine *default_machine;

// NULL: the default machine. Initial-exec: the signal handlers read it.
static _Thread_local klfs_emulated_machine *thread_machine
    __attribute__((tls_model("initial-exec")));

// The failure of a call that reports -errno or KLFS_ENOMEM, as errno
// (KLFS_ENOMEM comes from the secret memory allocator, which set errno).
static void set_errno_from(int status) {
    if (status != KLFS_ENOMEM) errno = -status;
}

klfs_emulated_machine *klfs_emulator_machine_create(void) {
    klfs_emulated_machine *machine = calloc(1, sizeof *machine);
    if (machine == NULL) return NULL;
    machine->iwkeys = klfs_iwkey_store_create(true, NULL);
    machine->platform_backup = klfs_secret_alloc(sizeof *machine->platform_backup, true, NULL);
    pthread_mutex_init(&machine->platform_lock, NULL);
    atomic_init(&machine->software_key_cycles, DEFAULT_SOFTWARE_KEY_CYCLES);
    atomic_init(&machine->random_key_cycles, DEFAULT_RANDOM_KEY_CYCLES);
    if (machine->iwkeys == NULL || machine->platform_backup == NULL) {
        int error = errno;
        klfs_emulator_machine_destroy(machine);
        errno = error;
        return NULL;
    }
    int status = klfs_emulator_load_iwkey(machine, BOOT_ATTRIBUTES, NULL, NULL);
    if (status != KLFS_OK) {
        klfs_emulator_machine_destroy(machine);
        set_errno_from(status);
        return NULL;
    }
    return machine;
}

void klfs_emulator_machine_destroy(klfs_emulated_machine *machine) {
    if (machine == NULL || machine == default_machine) return;
    // The machine's IWKey and its backup die here, wiped by the frees.
    klfs_iwkey_store_destroy(machine->iwkeys);
    klfs_secret_free(machine->platform_backup, sizeof *machine->platform_backup);
    pthread_mutex_destroy(&machine->platform_lock);
    free(machine);
}

int klfs_emulator_boot_default_machine(void) {
    default_machine = klfs_emulator_machine_create();
    return default_machine == NULL ? -errno : 0;
}

klfs_emulated_machine *klfs_emulator_default_machine(void) { return default_machine; }

klfs_emulated_machine *klfs_emulator_current_machine(void) {
    return thread_machine != NULL ? thread_machine : default_machine;
}

klfs_emulated_machine *klfs_emulator_switch_machine(klfs_emulated_machine *machine) {
    klfs_emulated_machine *previous = thread_machine;
    thread_machine = machine;
    return previous;
}

// Test support, declared by Tests/CKLInstructionForms (a klfs_iwkey): the
// IWKey of the calling thread's machine, so tests can compare ENCODEKEY
// with klfs_softkl_encode_key. Valid until that IWKey changes; it guards
// nothing but this process's emulated CPU.
const void *klfs_emulator_iwkey_for_testing(void);
const void *klfs_emulator_iwkey_for_testing(void) {
    klfs_iwkey_store *iwkeys = klfs_emulator_current_machine()->iwkeys;
    int ticket;
    const klfs_iwkey *iwkey = klfs_iwkey_store_acquire(iwkeys, &ticket);
    if (iwkey != NULL) klfs_iwkey_store_release(iwkeys, ticket);
    return iwkey;
}
