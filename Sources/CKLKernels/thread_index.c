// The thread numbers of klfs_thread_index.h.
#include "klfs_thread_index.h"

#include <stdatomic.h>

static __thread unsigned this_thread = 0; // 0: no number yet; else number + 1
static atomic_uint threads_numbered;

unsigned klfs_thread_index(void) {
    if (this_thread == 0) this_thread = atomic_fetch_add(&threads_numbered, 1) + 1;
    return this_thread - 1;
}
