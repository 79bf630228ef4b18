#ifndef KLFS_THREAD_INDEX_H
#define KLFS_THREAD_INDEX_H

// A small number for the calling thread, the same on every call: threads
// take 0, 1, 2, ... in the order of their first call. Counters that every
// request updates spread themselves over cache lines by it, one line per
// thread, so that two cores counting at once do not move one line back and
// forth. Async-signal-safe (initial-exec TLS and one atomic add): the
// emulator counts from its signal handlers.
unsigned klfs_thread_index(void);

#endif
