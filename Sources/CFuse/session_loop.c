// The request loop: libfuse's receive and process steps, run by a fixed
// pool of workers that spin briefly before they sleep.
//
// Why not fuse_session_loop_mt: a FUSE request is a round trip between the
// caller and a daemon thread, and on a virtual machine whose idle CPUs halt
// (HLT exits to the hypervisor) waking a sleeping daemon thread on an idle
// CPU costs more than most requests take to serve. Metadata-heavy work (tar
// -x, rm -rf) is a chain of such round trips. Here the worker that finished
// the last request keeps asking for the next one, yielding its CPU to
// anyone runnable, for up to spin_ns: a request arriving meanwhile is taken
// without any wakeup. The window adapts, as the kernel's haltpoll does:
// it doubles (from 10 us, up to spin_ns) while requests arrive within
// twice spin_ns of the last reply, and halves while they arrive more than
// four times spin_ns later, so a stream of large requests with long gaps
// between them (dd with 1 MiB writes: about 1 ms each) soon stops paying
// for spins that never catch anything. The slack is there because a gap
// measured without spinning includes the wakeups that spinning saves: with
// one threshold at spin_ns, fio's 4 KiB requests at depth 1 on an image
// mount (about 30 us apart while the workers spin, 60 to 100 us while they
// sleep) kept whichever state the run started in, and rounds differed 2-3x.
// Two workers may spin at once: one takes the next
// request, and the other keeps a second CPU awake, so that the reply wakes
// the caller on a running CPU rather than a halted one (on two cores that
// removed most of what spinning left: rm -rf of 18,000 files 0.49 s with
// no spinning, 0.53 with one spinner, 0.38 with two). The others sleep in
// epoll with EPOLLEXCLUSIVE, so a request wakes one sleeper, not all.
//
// Workers that spin never sleep, so no wakeup ever places them on a CPU
// again: two of them can share one CPU for whole scheduler slices while
// another CPU idles (an image mount on two cores, fio at depth 16: the
// two workers took turns on one CPU for 6 ms at a time while fio's CPU
// sat idle between its submissions, about 1 us of idle time per request
// against passthrough_ll's 0.4). A caller with a worker per CPU can ask
// for each worker to be pinned to a CPU of its own (pin_workers).
#define _GNU_SOURCE
#include "CFuse.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct session_loop {
    struct fuse_session *session;
    int device;           // the session's /dev/fuse descriptor, made non-blocking
    int stop;             // eventfd, written when the session ends: wakes every worker
    int64_t spin_ns;      // the longest a worker keeps asking before it sleeps
    _Atomic int64_t window_ns;    // how long it keeps asking now (0 to spin_ns)
    _Atomic int64_t last_reply;   // when a worker last finished a request
    atomic_int spinning;  // workers spinning now, at most MAX_SPINNERS
    atomic_int error;     // the first negative errno a receive failed with
    sigset_t waiting_mask; // the signal mask while asleep (termination signals open)
};

// One worker: its loop, and the CPU it runs on (-1: wherever the
// scheduler puts it).
struct worker {
    struct session_loop *loop;
    int cpu;
};

enum { MAX_SPINNERS = 2 };
static const int64_t WINDOW_GROW_START_NS = 10000;
// The window grows while gaps stay within GROW_GAPS windows and shrinks
// once they pass SHRINK_GAPS windows (see the top of the file).
enum { GROW_GAPS = 2, SHRINK_GAPS = 4 };
// The last reply's time is kept to a grain of spin_ns / REPLY_TIME_GRAINS
// (note_reply).
enum { REPLY_TIME_GRAINS = 4 };

enum received { RECEIVED_REQUEST, RECEIVED_NOTHING, SESSION_OVER };

static int64_t monotonic_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

// Adapts the spin window to how long the daemon sat idle before this
// request: what a spin would have had to wait, give or take the wakeups
// (see the top of the file for the thresholds). The window is stored only
// when it changes: under load it sits at spin_ns, and a store from every
// request would move its cache line between the workers' cores.
static void learn_gap(struct session_loop *loop) {
    int64_t gap = monotonic_ns() - atomic_load(&loop->last_reply);
    int64_t current = atomic_load(&loop->window_ns);
    int64_t window = current;
    if (gap <= GROW_GAPS * loop->spin_ns)
        window = window < WINDOW_GROW_START_NS ? WINDOW_GROW_START_NS : window * 2;
    else if (gap > SHRINK_GAPS * loop->spin_ns)
        window /= 2;
    if (window > loop->spin_ns)
        window = loop->spin_ns;
    if (window != current)
        atomic_store(&loop->window_ns, window);
}

// Records that a worker finished a request, for learn_gap. For the same
// reason as the window, only once the time has moved by a grain: a gap
// then reads up to one grain long, against thresholds of whole windows.
static void note_reply(struct session_loop *loop) {
    int64_t now = monotonic_ns();
    if (now - atomic_load(&loop->last_reply) >= loop->spin_ns / REPLY_TIME_GRAINS)
        atomic_store(&loop->last_reply, now);
}

// One non-blocking read of the device. libfuse returns 0 once the session
// has exited or the file system was unmounted (ENODEV).
static enum received receive(struct session_loop *loop, struct fuse_buf *buf) {
    int result = fuse_session_receive_buf(loop->session, buf);
    if (result > 0) {
        learn_gap(loop);
        return RECEIVED_REQUEST;
    }
    if ((result == -EAGAIN || result == -EINTR) && !fuse_session_exited(loop->session))
        return RECEIVED_NOTHING;
    if (result < 0 && result != -EAGAIN && result != -EINTR) {
        int none = 0;
        atomic_compare_exchange_strong(&loop->error, &none, result);
    }
    return SESSION_OVER;
}

// The spinning worker: asks again until the window has passed, yielding the
// CPU between attempts. Returns RECEIVED_NOTHING at once if MAX_SPINNERS
// workers are spinning already.
static enum received spin(struct session_loop *loop, struct fuse_buf *buf) {
    int64_t window = atomic_load(&loop->window_ns);
    if (window == 0)
        return RECEIVED_NOTHING;
    if (atomic_fetch_add(&loop->spinning, 1) >= MAX_SPINNERS) {
        atomic_fetch_sub(&loop->spinning, 1);
        return RECEIVED_NOTHING;
    }
    int64_t deadline = monotonic_ns() + window;
    enum received outcome = RECEIVED_NOTHING;
    while (outcome == RECEIVED_NOTHING && monotonic_ns() < deadline) {
        sched_yield();
        outcome = receive(loop, buf);
    }
    atomic_fetch_sub(&loop->spinning, 1);
    return outcome;
}

// Sleeps until the device has a request or the session ends. The
// termination signals libfuse's handlers catch are blocked except here
// (epoll_pwait opens them atomically), so a signal can never slip in
// between a worker's last look at the exit flag and its sleep.
static void sleep_until_ready(struct session_loop *loop, int poller) {
    struct epoll_event events[2];
    epoll_pwait(poller, events, 2, -1, &loop->waiting_mask);
}

// Tells every worker the session is over.
static void end_session(struct session_loop *loop) {
    fuse_session_exit(loop->session);
    uint64_t one = 1;
    (void)!write(loop->stop, &one, sizeof one);
}

static int make_poller(struct session_loop *loop) {
    int poller = epoll_create1(EPOLL_CLOEXEC);
    if (poller < 0)
        return -errno;
    struct epoll_event device = {.events = EPOLLIN | EPOLLEXCLUSIVE};
    struct epoll_event stop = {.events = EPOLLIN};
    if (epoll_ctl(poller, EPOLL_CTL_ADD, loop->device, &device) != 0 ||
        epoll_ctl(poller, EPOLL_CTL_ADD, loop->stop, &stop) != 0) {
        int error = -errno;
        close(poller);
        return error;
    }
    return poller;
}

// Pins the calling thread to `cpu` (if not -1). A failure leaves it
// unpinned, which costs speed only.
static void pin_to(int cpu) {
    if (cpu < 0)
        return;
    cpu_set_t only;
    CPU_ZERO(&only);
    CPU_SET(cpu, &only);
    (void)pthread_setaffinity_np(pthread_self(), sizeof only, &only);
}

static void *work(void *argument) {
    const struct worker *self = argument;
    struct session_loop *loop = self->loop;
    pin_to(self->cpu);
    sigset_t termination;
    sigemptyset(&termination);
    sigaddset(&termination, SIGINT);
    sigaddset(&termination, SIGTERM);
    sigaddset(&termination, SIGHUP);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &termination, &previous);

    int poller = make_poller(loop);
    if (poller < 0) {
        int none = 0;
        atomic_compare_exchange_strong(&loop->error, &none, poller);
        end_session(loop);
        pthread_sigmask(SIG_SETMASK, &previous, NULL);
        return NULL;
    }
    // libfuse allocates the buffer on the first receive; it is freed here.
    struct fuse_buf buf = {.mem = NULL};
    for (;;) {
        enum received outcome = receive(loop, &buf);
        if (outcome == RECEIVED_NOTHING)
            outcome = spin(loop, &buf);
        if (outcome == SESSION_OVER)
            break;
        if (outcome == RECEIVED_REQUEST) {
            fuse_session_process_buf(loop->session, &buf);
            note_reply(loop);
        } else
            sleep_until_ready(loop, poller);
    }
    end_session(loop);
    free(buf.mem);
    close(poller);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return NULL;
}

// Gives worker i the i-th CPU the process may run on, when there are at
// least as many as workers; otherwise leaves every worker unpinned.
static void assign_cpus(struct worker *workers, unsigned count, bool pin) {
    cpu_set_t allowed;
    bool pinned = pin && sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
                  (unsigned)CPU_COUNT(&allowed) >= count;
    int cpu = 0;
    for (unsigned i = 0; i < count; i++) {
        workers[i].cpu = -1;
        if (!pinned)
            continue;
        while (!CPU_ISSET(cpu, &allowed))
            cpu++;
        workers[i].cpu = cpu++;
    }
}

int cfuse_session_loop(struct fuse_session *session, unsigned workers, long spin_ns, bool pin_workers) {
    struct session_loop loop = {.session = session, .device = fuse_session_fd(session),
                                .spin_ns = spin_ns, .window_ns = spin_ns,
                                .last_reply = monotonic_ns()};
    pthread_sigmask(SIG_SETMASK, NULL, &loop.waiting_mask);
    sigdelset(&loop.waiting_mask, SIGINT);
    sigdelset(&loop.waiting_mask, SIGTERM);
    sigdelset(&loop.waiting_mask, SIGHUP);
    int flags = fcntl(loop.device, F_GETFL);
    if (flags < 0 || fcntl(loop.device, F_SETFL, flags | O_NONBLOCK) != 0)
        return -errno;
    loop.stop = eventfd(0, EFD_CLOEXEC);
    if (loop.stop < 0)
        return -errno;

    // The calling thread is worker 0; a worker that cannot start leaves
    // the others to serve. The caller's own CPU set comes back after.
    if (workers == 0)
        workers = 1;
    struct worker roles[workers];
    for (unsigned i = 0; i < workers; i++)
        roles[i].loop = &loop;
    assign_cpus(roles, workers, pin_workers);
    cpu_set_t caller_cpus;
    bool caller_cpus_known = pthread_getaffinity_np(pthread_self(), sizeof caller_cpus, &caller_cpus) == 0;
    pthread_t threads[workers];
    unsigned started = 0;
    for (unsigned i = 1; i < workers; i++)
        if (pthread_create(&threads[started], NULL, work, &roles[i]) == 0)
            started++;
    work(&roles[0]);
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    if (caller_cpus_known)
        (void)pthread_setaffinity_np(pthread_self(), sizeof caller_cpus, &caller_cpus);
    close(loop.stop);
    fuse_session_reset(session);
    return atomic_load(&loop.error);
}
