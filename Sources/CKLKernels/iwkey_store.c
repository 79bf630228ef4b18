// The two-slot IWKey store of klfs_iwkey_store.h.
//
// Handle checks (readers) and replacements (one writer at a time, under
// `writer`) meet through two kinds of atomics: `live`, the slot in use, and
// reader counts, how many checks are counted into each slot.
//
//   reader: slot = live; count += 1 for slot; if live is still slot, use
//           the slot until count -= 1; otherwise count -= 1 and start
//           again.
//   writer: spare = the slot that is not live; wait for every count of
//           spare to drain; fill spare; live = spare; wait for every count
//           of old to drain; wipe old.
//
// A reader reads a slot only after counting itself in and then seeing the
// slot live; the writer writes or wipes a slot only while it is not live
// and after seeing nobody counted in it. With sequentially consistent
// atomics one of the two sees the other (a reader's count, or a slot that
// stopped being live), so no check reads a slot while it is written or
// wiped. A reader that read `live` long ago and counts itself into what
// has since become the spare slot backs off on its second look.
//
// The counts are spread over READER_RECORDS records, a cache line each,
// and a thread always counts into the same one (klfs_thread_index): with
// one shared counter, two cores busy with XTS calls moved its line between
// them twice a call.
// Threads that share a record (more threads than records) only share its
// line; a count is a count, whoever adds to it.
#define _GNU_SOURCE
#include "klfs_iwkey_store.h"
#include "klfs_thread_index.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

enum { NO_SLOT = -1, READER_RECORDS = 64, CACHE_LINE = 64 };

typedef struct reader_record {
    _Alignas(CACHE_LINE) _Atomic unsigned readers[2]; // checks counted into each slot
} reader_record;

struct klfs_iwkey_store {
    _Atomic int live;          // the slot handle checks use, or NO_SLOT
    pthread_mutex_t writer;    // one replacement or wipe at a time
    reader_record *records;    // READER_RECORDS, in ordinary memory: counts are no secret
    klfs_iwkey slots[2];
};

static reader_record *record_of_this_thread(klfs_iwkey_store *store) {
    return &store->records[klfs_thread_index() % READER_RECORDS];
}

klfs_iwkey_store *klfs_iwkey_store_create(bool allow_memfd_secret, klfs_secret_backing *backing) {
    reader_record *records = aligned_alloc(CACHE_LINE, READER_RECORDS * sizeof *records);
    if (records == NULL) return NULL;
    klfs_iwkey_store *store = klfs_secret_alloc(sizeof *store, allow_memfd_secret, backing);
    if (store == NULL) {
        free(records);
        return NULL;
    }
    for (int i = 0; i < READER_RECORDS; i++) {
        atomic_init(&records[i].readers[0], 0);
        atomic_init(&records[i].readers[1], 0);
    }
    store->records = records;
    atomic_init(&store->live, NO_SLOT);
    pthread_mutex_init(&store->writer, NULL);
    return store;
}

void klfs_iwkey_store_destroy(klfs_iwkey_store *store) {
    if (store == NULL) return;
    pthread_mutex_destroy(&store->writer);
    free(store->records);
    klfs_secret_free(store, sizeof *store); // both slots die here, wiped
}

// The ticket names the record and the slot, so that a release finds the
// count to take back whichever thread makes it.
const klfs_iwkey *klfs_iwkey_store_acquire(klfs_iwkey_store *store, int *ticket) {
    reader_record *record = record_of_this_thread(store);
    for (;;) {
        int candidate = atomic_load(&store->live);
        if (candidate == NO_SLOT) return NULL;
        atomic_fetch_add(&record->readers[candidate], 1);
        if (atomic_load(&store->live) == candidate) {
            *ticket = (int)(record - store->records) * 2 + candidate;
            return &store->slots[candidate];
        }
        atomic_fetch_sub(&record->readers[candidate], 1);
    }
}

void klfs_iwkey_store_release(klfs_iwkey_store *store, int ticket) {
    atomic_fetch_sub(&store->records[ticket / 2].readers[ticket % 2], 1);
}

// Handle checks hold a slot for one instruction or one XTS call, so the
// wait is short; yielding lets them finish on a machine with few cores.
static void wait_for_readers(klfs_iwkey_store *store, int slot) {
    for (int i = 0; i < READER_RECORDS; i++)
        while (atomic_load(&store->records[i].readers[slot]) != 0) sched_yield();
}

// The slot is no longer live: once the checks still in it are done, the
// IWKey it held dies here.
static void retire(klfs_iwkey_store *store, int slot) {
    if (slot == NO_SLOT) return;
    wait_for_readers(store, slot);
    klfs_wipe(&store->slots[slot], sizeof store->slots[slot]);
}

typedef struct replace_call {
    klfs_iwkey_store *store;
    klfs_iwkey_maker make;
    void *context;
} replace_call;

static int replace_on_secret_stack(void *argument) {
    const replace_call *call = argument;
    klfs_iwkey_store *store = call->store;
    pthread_mutex_lock(&store->writer);
    int old = atomic_load(&store->live);
    int spare = old == 0 ? 1 : 0;
    wait_for_readers(store, spare); // stragglers backing off, see above
    int status = call->make(&store->slots[spare], call->context);
    if (status == KLFS_OK) {
        atomic_store(&store->live, spare);
        retire(store, old);
    } else {
        klfs_wipe(&store->slots[spare], sizeof store->slots[spare]); // a half-made IWKey dies here
    }
    pthread_mutex_unlock(&store->writer);
    return status;
}

int klfs_iwkey_store_replace(klfs_iwkey_store *store, klfs_iwkey_maker make, void *context) {
    replace_call call = {store, make, context};
    return klfs_run_on_secret_stack(replace_on_secret_stack, &call);
}

static int generate_into(klfs_iwkey *next, void *context) {
    return klfs_iwkey_generate(next, *(const uint32_t *)context);
}

int klfs_iwkey_store_generate(klfs_iwkey_store *store, uint32_t attributes) {
    return klfs_iwkey_store_replace(store, generate_into, &attributes);
}

void klfs_iwkey_store_wipe(klfs_iwkey_store *store) {
    pthread_mutex_lock(&store->writer);
    retire(store, atomic_exchange(&store->live, NO_SLOT));
    pthread_mutex_unlock(&store->writer);
}
