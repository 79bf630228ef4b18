// A stack in secret memory for each thread that unwraps software Key
// Locker handles. Every unwrap, and the crypto that uses the unwrapped key,
// runs on it: the raw key, its round keys, whatever the compiler spills and
// any signal frame pushed meanwhile land in memfd_secret pages, never on
// the thread's ordinary stack, and the stack is wiped before the call
// returns. A second region of the same mapping, the scope slot,
// holds round keys that a caller keeps for a short run of block operations
// (the four passes of one EME name).
#define _GNU_SOURCE
#include "klfs_secret.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// Deep enough for the unwrap and XTS kernels (about 3 KiB) plus a signal
// frame with the AVX-512 state (about 3.5 KiB) and a small handler on top
// of them; small, since every call wipes all of it.
#define SECRET_STACK_SIZE (16 * 1024)

// rdi: body, rsi: argument, rdx: top of the stack to run body on
// (secret_stack_x86_64.S).
int klfs_call_on_stack(int (*body)(void *), void *argument, void *stack_top);

// One mapping per thread: [guard page][stack][this record, scope slot
// included]. The guard page turns an overflow into a fault instead of a write
// into other memory. Everything lives in the mapping, so that setting it up
// needs no malloc (the emulator may do it inside a signal handler).
typedef struct secret_workspace {
    uint8_t *mapping;
    size_t mapping_size;
    uint8_t *stack_low;
    uint8_t *stack_top;
    bool slot_in_use;
    _Alignas(64) uint8_t slot[KLFS_SECRET_SLOT_SIZE];
} secret_workspace;

// Initial-exec TLS: safe to read from the emulator's signal handlers.
static __thread secret_workspace *thread_workspace;
static pthread_key_t workspace_key;
static pthread_once_t workspace_key_once = PTHREAD_ONCE_INIT;

static size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

// The workspace dies with its thread: wiped (the slot and the stack, the
// guard page made writable again for the wipe) and unmapped.
static void free_workspace(void *memory) {
    secret_workspace *workspace = memory;
    thread_workspace = NULL;
    mprotect(workspace->mapping, page_size(), PROT_READ | PROT_WRITE);
    klfs_secret_free(workspace->mapping, workspace->mapping_size);
}

static void create_workspace_key(void) { pthread_key_create(&workspace_key, free_workspace); }

static secret_workspace *allocate_workspace(void) {
    pthread_once(&workspace_key_once, create_workspace_key);
    size_t page = page_size();
    size_t size = page + SECRET_STACK_SIZE + sizeof(secret_workspace);
    uint8_t *mapping = klfs_secret_alloc(size, true, NULL);
    if (mapping == NULL) return NULL;
    if (mprotect(mapping, page, PROT_NONE) != 0) {
        klfs_secret_free(mapping, size);
        return NULL;
    }
    secret_workspace *workspace = (secret_workspace *)(mapping + page + SECRET_STACK_SIZE);
    workspace->mapping = mapping;
    workspace->mapping_size = size;
    workspace->stack_low = mapping + page;
    workspace->stack_top = mapping + page + SECRET_STACK_SIZE;
    workspace->slot_in_use = false;
    pthread_setspecific(workspace_key, workspace);
    return workspace;
}

static secret_workspace *current_workspace(void) {
    if (thread_workspace == NULL) thread_workspace = allocate_workspace();
    return thread_workspace;
}

static bool running_on(const secret_workspace *workspace) {
    const uint8_t *frame = __builtin_frame_address(0);
    return frame >= workspace->stack_low && frame < workspace->stack_top;
}

int klfs_run_on_secret_stack(int (*body)(void *), void *argument) {
    secret_workspace *workspace = current_workspace();
    if (workspace == NULL) return KLFS_ENOMEM;
    // A call from code already on the secret stack (a handler the emulator
    // runs there, say) stays where it is; the outer call wipes.
    if (running_on(workspace)) return body(argument);
    int status = klfs_call_on_stack(body, argument, workspace->stack_top);
    // What the call left on the secret stack dies here, and in the vector
    // registers. The whole stack: glibc's memset clears 16 KiB of lines
    // that are in L1 anyway faster than a search for the lowest one the
    // call touched would read them.
    klfs_wipe(workspace->stack_low, SECRET_STACK_SIZE);
    return status;
}

void *klfs_secret_slot_acquire(void) {
    secret_workspace *workspace = current_workspace();
    if (workspace == NULL) return NULL;
    if (workspace->slot_in_use) {
        errno = EBUSY;
        return NULL;
    }
    workspace->slot_in_use = true;
    return workspace->slot;
}

void klfs_secret_slot_release(void) {
    secret_workspace *workspace = thread_workspace;
    // The scope's round keys die here, and in the vector registers.
    klfs_wipe(workspace->slot, KLFS_SECRET_SLOT_SIZE);
    workspace->slot_in_use = false;
}
