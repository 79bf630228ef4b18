// The IWKey backup MSRs of an emulated machine: IA32_COPY_LOCAL_TO_PLATFORM
// copies the IWKey to platform-scoped storage (which survives S3 and S4 on
// real hardware), IA32_COPY_PLATFORM_TO_LOCAL brings it back, and two
// status MSRs report on both. docs/EMULATOR.md says which details are the
// spec's and which are ours.
#include "emulator_machine.h"

#include <string.h>

// Copies the live IWKey to platform storage, unless it was loaded with
// NoBackup. The previous backup stays otherwise.
static void copy_local_to_platform(klfs_emulated_machine *machine) {
    int ticket;
    const klfs_iwkey *iwkey = klfs_iwkey_store_acquire(machine->iwkeys, &ticket);
    bool allowed = iwkey != NULL && (iwkey->attributes & KLFS_IWKEY_NO_BACKUP) == 0;
    if (allowed) memcpy(machine->platform_backup, iwkey, sizeof *iwkey);
    if (iwkey != NULL) klfs_iwkey_store_release(machine->iwkeys, ticket);
    klfs_clear_vector_registers(); // the copy's registers held the IWKey
    // Valid and consumed: the value Intel's own Key Locker tests expect
    // after a backup, and the one ACRN's emulation reports.
    if (allowed) atomic_store(&machine->backup_status, KLFS_IWKEYBACKUP_VALID | KLFS_IWKEYBACKUP_CONSUMED);
    atomic_store(&machine->copy_status, allowed ? KLFS_COPY_STATUS_SUCCESS : 0);
}

// A klfs_iwkey_maker: the backed-up IWKey, metadata included.
static int copy_backup_into(klfs_iwkey *next, void *context) {
    memcpy(next, context, sizeof *next);
    return KLFS_OK;
}

// Makes the backed-up IWKey live, if a backup is valid; the handles it
// wrapped work again.
static int copy_platform_to_local(klfs_emulated_machine *machine) {
    int status = KLFS_EHANDLE; // no valid backup: nothing to copy
    if (atomic_load(&machine->backup_status) & KLFS_IWKEYBACKUP_VALID)
        status = klfs_iwkey_store_replace(machine->iwkeys, copy_backup_into, machine->platform_backup);
    atomic_store(&machine->copy_status, status == KLFS_OK ? KLFS_COPY_STATUS_SUCCESS : 0);
    return status == KLFS_ENOMEM ? KLFS_ENOMEM : KLFS_OK;
}

int klfs_emulator_write_msr(klfs_emulated_machine *machine, uint32_t msr, uint64_t value) {
    bool copies_local = msr == KLFS_MSR_IA32_COPY_LOCAL_TO_PLATFORM;
    if (!copies_local && msr != KLFS_MSR_IA32_COPY_PLATFORM_TO_LOCAL) return KLFS_EINVAL;
    if (value & ~(uint64_t)KLFS_COPY_COMMAND) return KLFS_EINVAL;
    if (value == 0) return KLFS_OK; // bit 0 clear: no copy asked for
    pthread_mutex_lock(&machine->platform_lock);
    int status = KLFS_OK;
    if (copies_local)
        copy_local_to_platform(machine);
    else
        status = copy_platform_to_local(machine);
    pthread_mutex_unlock(&machine->platform_lock);
    return status;
}

int klfs_emulator_read_msr(klfs_emulated_machine *machine, uint32_t msr, uint64_t *value) {
    switch (msr) {
    case KLFS_MSR_IA32_COPY_STATUS: *value = atomic_load(&machine->copy_status); return KLFS_OK;
    case KLFS_MSR_IA32_IWKEYBACKUP_STATUS: *value = atomic_load(&machine->backup_status); return KLFS_OK;
    default: return KLFS_EINVAL;
    }
}
