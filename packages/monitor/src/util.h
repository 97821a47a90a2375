/* Small helpers shared by the monitor's files. */
#ifndef ISULA_MONITOR_UTIL_H
#define ISULA_MONITOR_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes everything (blocking fd), retrying EINTR; -1 on error. */
ssize_t write_all(int fd, const void *buf, size_t len);
int set_nonblock(int fd);
int set_cloexec(int fd);
/* Length (1..4) of the valid UTF-8 sequence at p, 0 if invalid, -1 if it is a valid but
 * truncated prefix (more bytes may follow). p[0] must be >= 0x80. */
int utf8_seq_len(const unsigned char *p, size_t avail);

#endif
