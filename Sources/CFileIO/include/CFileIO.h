#ifndef CFILEIO_H
#define CFILEIO_H

// File calls that Swift's Glibc module does not export (fallocate(2) and
// its FALLOC_FL_* flags sit behind _GNU_SOURCE).

#include <sys/types.h>

// Deallocates [offset, offset + length) of `fd` without changing its size
// (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE): the range reads back as
// zeros and stops taking space. 0, or -1 with errno.
int cfileio_punch_hole(int fd, off_t offset, off_t length);

#endif
