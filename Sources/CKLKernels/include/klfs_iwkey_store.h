#ifndef KLFS_IWKEY_STORE_H
#define KLFS_IWKEY_STORE_H

#include "klfs_secret.h"
#include "klfs_softkl.h"

// Where a software Key Locker (the keylocker-soft engine, an emulated
// machine) holds its IWKey, as a CPU holds its own: every handle check on
// every thread reads it, and it may be replaced (LOADIWKEY, a restore from
// backup, a fresh key) or wiped at any moment. A check racing a replacement
// sees the old IWKey or the new one, whole, never a mixture: the store
// keeps two slots in secret memory, handle checks count themselves into
// the live one, and a replacement fills the other slot, makes it live and
// waits for the checks still counted in the old slot before wiping it.
//
// Handle checks (acquire/release) take no lock and never block, so the
// emulator's signal handlers may make them. Replacements and wipes take a
// mutex and wait: never call them from a signal handler or from between
// an acquire and its release.
typedef struct klfs_iwkey_store klfs_iwkey_store;

// An empty store (no IWKey yet) in memory from klfs_secret_alloc. NULL
// with errno set when no secret memory can be had.
klfs_iwkey_store *klfs_iwkey_store_create(bool allow_memfd_secret, klfs_secret_backing *backing);

// Wipes both slots and frees the store. No thread may be using it.
void klfs_iwkey_store_destroy(klfs_iwkey_store *store);

// The live IWKey, which stays whole until the matching release, or NULL
// when the store is empty (no release then). `ticket` says what to release.
const klfs_iwkey *klfs_iwkey_store_acquire(klfs_iwkey_store *store, int *ticket);
void klfs_iwkey_store_release(klfs_iwkey_store *store, int ticket);

// Fills `next` (zeroed, secret memory) with a complete IWKey, or fails
// with a klfs_common.h status or -errno.
typedef int (*klfs_iwkey_maker)(klfs_iwkey *next, void *context);

// Replaces the IWKey with the one `make` writes into the spare slot. On
// success the new IWKey is live when this returns and the old one is
// wiped; handle checks that began before still finish with the old one.
// On failure the spare slot is wiped and the live IWKey stays. Runs on
// the thread's secret stack, so `make`'s locals stay in secret memory.
// Returns `make`'s status, or KLFS_ENOMEM.
int klfs_iwkey_store_replace(klfs_iwkey_store *store, klfs_iwkey_maker make, void *context);

// Replaces the IWKey with a fresh one from getrandom (klfs_iwkey_generate).
int klfs_iwkey_store_generate(klfs_iwkey_store *store, uint32_t attributes);

// Empties the store: from now on acquire returns NULL. The IWKey is wiped
// once the checks that hold it have released it.
void klfs_iwkey_store_wipe(klfs_iwkey_store *store);

#endif
