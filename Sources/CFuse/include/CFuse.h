#ifndef CFUSE_H
#define CFUSE_H

// The libfuse3 low-level API as klfs uses it. _FILE_OFFSET_BITS is not
// defined here (it conflicts with the Glibc module); off_t is 64-bit on
// x86-64 anyway.
#define FUSE_USE_VERSION 35
#include <fuse3/fuse_lowlevel.h>
#include <stdbool.h>
#include <sys/types.h>
#include <sys/xattr.h>

// fuse_log is variadic, which Swift cannot call: log one preformatted line.
void cfuse_log(enum fuse_log_level level, const char *message);

// Routes libfuse's own log lines and cfuse_log to syslog (daemon mode,
// where stderr is /dev/null) instead of stderr.
void cfuse_log_to_syslog(const char *identity);

// fuse_session_new with the arguments as an argv array (FUSE_ARGS_INIT is
// a macro). argv[0] is the program name; the rest are libfuse options such
// as "-o" "ro,allow_other".
struct fuse_session *cfuse_session_new(int argc, const char *const *argv,
                                       const struct fuse_lowlevel_ops *ops,
                                       void *userdata);

// Serves requests on `workers` threads (the caller's among them) until
// the session ends; a worker that finishes a request keeps asking for the
// next one for up to spin_ns before it sleeps (session_loop.c says why).
// With pin_workers, and at least as many CPUs as workers, each worker runs
// on a CPU of its own. Returns 0, or the negative errno reading the device
// failed with.
int cfuse_session_loop(struct fuse_session *session, unsigned workers, long spin_ns, bool pin_workers);

// renameat2(2): not exported by Swift's Glibc module.
int cfuse_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                    const char *newpath, unsigned int flags);

// Sets the calling thread's filesystem user and group IDs and its
// supplementary groups, and no other thread's: what a root daemon does to
// create an entry as the user who asked for it. Returns 0, or -1 with errno.
int cfuse_set_thread_credentials(uid_t fsuid, gid_t fsgid, size_t group_count, const gid_t *groups);

// Closes every descriptor from 3 up except `keep`: a daemon must not hold
// descriptors that its starter's caller passed down (a caller waiting for a
// pipe or socket to close would wait for the daemon's whole life).
void cfuse_close_inherited_descriptors(int keep);

// The user ID of the process at the other end of the connected unix socket
// `fd` (SO_PEERCRED, which Swift's Glibc module does not export: struct
// ucred needs _GNU_SOURCE). 0 on success, -1 with errno.
int cfuse_peer_uid(int fd, uid_t *uid);

// Constants Swift's Glibc module does not export (they sit behind
// _GNU_SOURCE or in macros it cannot import).
extern const unsigned int cfuse_rename_noreplace;
extern const unsigned int cfuse_rename_exchange;
extern const int cfuse_o_path;
extern const int cfuse_o_noatime;
extern const int cfuse_at_empty_path;
extern const long cfuse_utime_now;
extern const long cfuse_utime_omit;
extern const int cfuse_falloc_fl_keep_size;
extern const int cfuse_falloc_fl_punch_hole;
extern const int cfuse_falloc_fl_zero_range;

#endif
