#define _GNU_SOURCE
#include "CConformance.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

int conformance_renameat2(int olddirfd, const char *oldpath, int newdirfd,
                          const char *newpath, unsigned int flags) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, flags);
}

const unsigned int conformance_rename_noreplace = RENAME_NOREPLACE;
const unsigned int conformance_rename_exchange = RENAME_EXCHANGE;

int conformance_set_filesystem_identity(uid_t uid, gid_t gid, const gid_t *groups, int count) {
    // The raw system call changes this thread only; glibc's setgroups would
    // change every thread of the process.
    if (syscall(SYS_setgroups, (size_t)count, groups) != 0) return -1;
    setfsgid(gid);
    setfsuid(uid);
    // Both return the previous value and cannot fail visibly: an invalid
    // id (-1) asks for the current one.
    if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid) {
        errno = EPERM;
        return -1;
    }
    return 0;
}

static int unix_address(const char *path, struct sockaddr_un *address) {
    memset(address, 0, sizeof *address);
    address->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof address->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(address->sun_path, path);
    return 0;
}

int conformance_listen_unix(const char *path) {
    struct sockaddr_un address;
    if (unix_address(path, &address) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 1) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int conformance_connect_unix(const char *path) {
    struct sockaddr_un address;
    if (unix_address(path, &address) != 0) return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

dev_t conformance_makedev(unsigned int major, unsigned int minor) { return makedev(major, minor); }
unsigned int conformance_major(dev_t device) { return major(device); }
unsigned int conformance_minor(dev_t device) { return minor(device); }

const int conformance_o_tmpfile = O_TMPFILE;
const int conformance_o_path = O_PATH;
const long conformance_utime_now = UTIME_NOW;
const long conformance_utime_omit = UTIME_OMIT;
