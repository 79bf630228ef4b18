#ifndef CCONFORMANCE_H
#define CCONFORMANCE_H

// What klfs-conformance needs from libc that Swift's Glibc module does not
// export: calls and constants behind _GNU_SOURCE, macros, and sockaddr_un.
#include <sys/types.h>

// renameat2(2) with RENAME_NOREPLACE or RENAME_EXCHANGE.
int conformance_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                          const char *newpath, unsigned int flags);
extern const unsigned int conformance_rename_noreplace;
extern const unsigned int conformance_rename_exchange;

// Sets this thread's filesystem identity (fsuid, fsgid, supplementary
// groups): what the kernel checks permissions against and gives new entries.
// The effective uid stays, so root can switch back. Returns 0, or -1 with
// errno (EPERM when the identity did not take).
int conformance_set_filesystem_identity(uid_t uid, gid_t gid, const gid_t *groups, int count);

// A Unix stream socket bound to `path` and listening, or connected to it;
// -1 with errno on failure.
int conformance_listen_unix(const char *path);
int conformance_connect_unix(const char *path);

dev_t conformance_makedev(unsigned int major, unsigned int minor);
unsigned int conformance_major(dev_t device);
unsigned int conformance_minor(dev_t device);

extern const int conformance_o_tmpfile;
extern const int conformance_o_path;
extern const long conformance_utime_now;
extern const long conformance_utime_omit;

#endif
