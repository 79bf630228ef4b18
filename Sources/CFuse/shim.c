// C wrappers for the parts of libfuse3 Swift cannot call directly.
#define _GNU_SOURCE
#include "CFuse.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <syslog.h>
#include <unistd.h>

const unsigned int cfuse_rename_noreplace = RENAME_NOREPLACE;
const unsigned int cfuse_rename_exchange = RENAME_EXCHANGE;
const int cfuse_o_path = O_PATH;
const int cfuse_o_noatime = O_NOATIME;
const int cfuse_at_empty_path = AT_EMPTY_PATH;
const long cfuse_utime_now = UTIME_NOW;
const long cfuse_utime_omit = UTIME_OMIT;
const int cfuse_falloc_fl_keep_size = FALLOC_FL_KEEP_SIZE;
const int cfuse_falloc_fl_punch_hole = FALLOC_FL_PUNCH_HOLE;
const int cfuse_falloc_fl_zero_range = FALLOC_FL_ZERO_RANGE;

void cfuse_log(enum fuse_log_level level, const char *message) {
    fuse_log(level, "%s\n", message);
}

static void log_to_syslog(enum fuse_log_level level, const char *format, va_list ap) {
    // fuse_log_level values are syslog priorities by design.
    vsyslog((int)level, format, ap);
}

void cfuse_log_to_syslog(const char *identity) {
    openlog(identity, LOG_PID, LOG_DAEMON);
    fuse_set_log_func(log_to_syslog);
}

struct fuse_session *cfuse_session_new(int argc, const char *const *argv,
                                       const struct fuse_lowlevel_ops *ops,
                                       void *userdata) {
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    for (int i = 0; i < argc; i++) {
        if (fuse_opt_add_arg(&args, argv[i]) != 0) {
            fuse_opt_free_args(&args);
            return NULL;
        }
    }
    struct fuse_session *session = fuse_session_new(&args, ops, sizeof *ops, userdata);
    fuse_opt_free_args(&args);
    return session;
}

int cfuse_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                    const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

void cfuse_close_inherited_descriptors(int keep) {
    if (keep > 3) close_range(3, (unsigned)keep - 1, 0);
    close_range((unsigned)keep + 1, ~0U, 0);
}

int cfuse_peer_uid(int fd, uid_t *uid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *uid = credentials.uid;
    return 0;
}

int cfuse_set_thread_credentials(uid_t fsuid, gid_t fsgid, size_t group_count, const gid_t *groups) {
    // The raw system call: glibc's setgroups() changes every thread's groups.
    if (syscall(SYS_setgroups, group_count, groups) != 0) return -1;
    // setfsuid and setfsgid report failure only by not changing the ID.
    setfsgid(fsgid);
    if ((gid_t)setfsgid((gid_t)-1) != fsgid) {
        errno = EPERM;
        return -1;
    }
    setfsuid(fsuid);
    if ((uid_t)setfsuid((uid_t)-1) != fsuid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}
