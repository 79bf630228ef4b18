// An emulated machine (klfs_emulator.h), as the emulator's files share it;
// private to CKLKernels.
#ifndef KLFS_EMULATOR_MACHINE_H
#define KLFS_EMULATOR_MACHINE_H

#include "klfs_emulator.h"
#include "klfs_iwkey_store.h"

#include <pthread.h>
#include <stdatomic.h>

struct klfs_emulated_machine {
    // The IWKey every logical processor of the machine holds; emulated
    // instructions read it, LOADIWKEY and a restore replace it.
    klfs_iwkey_store *iwkeys;
    // Platform-scoped storage: the backed-up IWKey, in secret memory. Valid
    // when backup_status says so.
    klfs_iwkey *platform_backup;
    // Backup and restore, one at a time (both use platform_backup).
    pthread_mutex_t platform_lock;
    _Atomic uint64_t copy_status;   // IA32_COPY_STATUS
    _Atomic uint64_t backup_status; // IA32_IWKEYBACKUP_STATUS
    _Atomic uint64_t software_key_cycles, random_key_cycles; // LOADIWKEY's cost
};

// Boots the default machine (install does, once). 0 or -errno.
int klfs_emulator_boot_default_machine(void);

#endif
