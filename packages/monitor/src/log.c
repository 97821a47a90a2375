/*
 * Log drivers. json-file writes Docker's line format and rotates by size; kubernetes writes the CRI
 * log format kubelet reads (kubelet rotates it: it renames the file and has us reopen the path);
 * syslog sends one message per record; none drops everything. Records are written synchronously: a
 * slow disk slows the container's output, it never grows our memory.
 */
#define _GNU_SOURCE
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
#include <unistd.h>

static struct log_config cfg;
static int log_fd = -1;
static uint64_t log_size;
static int syslog_opened;

/* Small output buffer: one record is streamed through it, so a 16 KiB chunk escaped to ~96 KiB
 * never needs a buffer of its own. */
static char obuf[8192];
static size_t olen;

static void oflush(void)
{
    if (olen > 0 && log_fd >= 0) {
        write_all(log_fd, obuf, olen); /* errors (ENOSPC...) lose the record, never the container */
    }
    olen = 0;
}

static void oput(const char *s, size_t n)
{
    while (n > 0) {
        size_t room = sizeof(obuf) - olen;
        size_t k = n < room ? n : room;
        memcpy(obuf + olen, s, k);
        olen += k;
        s += k;
        n -= k;
        if (olen == sizeof(obuf)) {
            oflush();
        }
    }
}

size_t format_time(const struct timespec *ts, char *buf, size_t cap)
{
    struct tm tm;
    time_t sec = ts->tv_sec;
    gmtime_r(&sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(buf + n, cap - n, ".%09ldZ", (long)ts->tv_nsec);
    return n + (size_t)(m > 0 ? m : 0);
}

static const struct { const char *name; int value; } facilities[] = {
    {"kern", LOG_KERN},     {"user", LOG_USER},     {"mail", LOG_MAIL},       {"daemon", LOG_DAEMON},
    {"auth", LOG_AUTH},     {"syslog", LOG_SYSLOG}, {"lpr", LOG_LPR},         {"news", LOG_NEWS},
    {"uucp", LOG_UUCP},     {"cron", LOG_CRON},     {"authpriv", LOG_AUTHPRIV}, {"ftp", LOG_FTP},
    {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1}, {"local2", LOG_LOCAL2},   {"local3", LOG_LOCAL3},
    {"local4", LOG_LOCAL4}, {"local5", LOG_LOCAL5}, {"local6", LOG_LOCAL6},   {"local7", LOG_LOCAL7},
};

int syslog_facility_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
        if (strcmp(name, facilities[i].name) == 0) {
            return facilities[i].value;
        }
    }
    return -1;
}

/* mkdir -p of the directory that holds path, mode 0755. */
static int make_parent_dirs(const char *path)
{
    char dir[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof(dir)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL || slash == dir) {
        return 0;
    }
    *slash = '\0';
    struct stat st;
    if (stat(dir, &st) == 0) {
        return 0; /* the usual case: kubelet made the pod's log directory */
    }
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
                return -1;
            }
            *p = c;
            if (c == '\0') {
                return 0;
            }
        }
    }
}

/* A new descriptor for cfg.path. kubernetes opens it the way containerd's CRI does (openLogFile):
 * parent directories made 0755, never through a symlink, 0640. */
static int open_path(void)
{
    int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
    if (cfg.driver == LOG_DRIVER_KUBERNETES) {
        if (make_parent_dirs(cfg.path) < 0) {
            return -1;
        }
        flags |= O_NOFOLLOW;
    }
    return open(cfg.path, flags, 0640);
}

static int open_log_file(void)
{
    struct stat st;
    log_fd = open_path();
    if (log_fd < 0) {
        return -1;
    }
    log_size = fstat(log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

int log_open(const struct log_config *c)
{
    cfg = *c;
    switch (cfg.driver) {
    case LOG_DRIVER_JSON_FILE:
    case LOG_DRIVER_KUBERNETES:
        return open_log_file();
    case LOG_DRIVER_SYSLOG:
        openlog(cfg.syslog_tag, LOG_PID | LOG_NDELAY, cfg.syslog_facility);
        syslog_opened = 1;
        return 0;
    default:
        return 0;
    }
}

void log_close(void)
{
    if (log_fd >= 0) {
        oflush();
        close(log_fd);
        log_fd = -1;
    }
    if (syslog_opened) {
        closelog();
        syslog_opened = 0;
    }
}

int log_reopen(void)
{
    struct stat st;
    if (cfg.driver != LOG_DRIVER_JSON_FILE && cfg.driver != LOG_DRIVER_KUBERNETES) {
        return 0;
    }
    /* the new file first: when it cannot be opened, records keep going to the old one */
    int fd = open_path();
    if (fd < 0) {
        return -1;
    }
    if (log_fd >= 0) {
        oflush();
        close(log_fd);
    }
    log_fd = fd;
    log_size = fstat(log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    return 0;
}

/* console.log.(N-2) -> .(N-1) ... console.log -> .1; with max-file 1 the file is truncated in place. */
static void rotate(void)
{
    char from[PATH_MAX], to[PATH_MAX];

    if (cfg.max_file <= 1) {
        if (ftruncate(log_fd, 0) == 0) {
            log_size = 0; /* O_APPEND: the next write lands at offset 0 */
        }
        return;
    }
    close(log_fd);
    log_fd = -1;
    for (unsigned i = cfg.max_file - 1; i >= 1; i--) {
        if (i == 1) {
            snprintf(from, sizeof(from), "%s", cfg.path);
        } else {
            snprintf(from, sizeof(from), "%s.%u", cfg.path, i - 1);
        }
        snprintf(to, sizeof(to), "%s.%u", cfg.path, i);
        (void)rename(from, to); /* a missing middle file is normal early on */
    }
    (void)open_log_file();
}

/* The bytes the escaped text takes, and optionally writes them. Control characters become \u00XX
 * (or their short forms), invalid UTF-8 bytes become \ufffd, so the line is valid JSON for any input. */
static size_t escape(const char *text, size_t len, int emit)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)text;
    size_t out = 0, i = 0, run = 0; /* run: start of bytes copied verbatim */

    while (i < len) {
        unsigned char c = p[i];
        const char *rep = NULL;
        char u[7];
        size_t replen = 0;

        if (c >= 0x80) {
            int k = utf8_seq_len(p + i, len - i);
            if (k > 0) {
                i += (size_t)k;
                out += (size_t)k;
                continue;
            }
            rep = "\\ufffd";
            replen = 6;
        } else if (c == '"' || c == '\\') {
            u[0] = '\\';
            u[1] = (char)c;
            rep = u;
            replen = 2;
        } else if (c < 0x20 || c == 0x7f) {
            u[0] = '\\';
            switch (c) {
            case '\n': u[1] = 'n'; replen = 2; break;
            case '\r': u[1] = 'r'; replen = 2; break;
            case '\t': u[1] = 't'; replen = 2; break;
            case '\b': u[1] = 'b'; replen = 2; break;
            case '\f': u[1] = 'f'; replen = 2; break;
            default:
                memcpy(u + 1, "u00", 3);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                replen = 6;
            }
            rep = u;
        } else {
            i++;
            out++;
            continue;
        }
        if (emit) {
            oput(text + run, i - run);
            oput(rep, replen);
        }
        out += replen;
        i++; /* every replacement stands for one input byte */
        run = i;
    }
    if (emit) {
        oput(text + run, len - run);
    }
    return out;
}

static void json_write(const char *stream, const char *text, size_t len)
{
    static const char pre[] = "{\"log\":\"";
    static const char mid[] = "\",\"stream\":\"";
    static const char tmid[] = "\",\"time\":\"";
    static const char post[] = "\"}\n";
    char ts[48];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t tslen = format_time(&now, ts, sizeof(ts));
    size_t slen = strlen(stream);
    uint64_t total = (sizeof(pre) - 1) + escape(text, len, 0) + (sizeof(mid) - 1) + slen +
                     (sizeof(tmid) - 1) + tslen + (sizeof(post) - 1);

    if (log_fd < 0 && open_log_file() != 0) {
        return; /* a failed reopen after rotation: retry on the next record, never rename again */
    }
    if (cfg.max_size > 0 && log_size > 0 && log_size + total > cfg.max_size) {
        rotate();
    }
    if (log_fd < 0) {
        return;
    }
    oput(pre, sizeof(pre) - 1);
    escape(text, len, 1);
    oput(mid, sizeof(mid) - 1);
    oput(stream, slen);
    oput(tmid, sizeof(tmid) - 1);
    oput(ts, tslen);
    oput(post, sizeof(post) - 1);
    oflush();
    log_size += total;
}

/* writev until everything is written; errors (ENOSPC...) lose the record, never the container */
static void writev_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
}

/* The CRI log format (kubelet's parseCRILog; containerd's and CRI-O's writers):
 *   <RFC3339Nano UTC> <stdout|stderr> <F|P> <content>\n
 * F: a whole line, its '\n' (or "\r\n", as containerd strips it) not in content; P: a piece of a line,
 * cut where the line buffer filled or where the stream ended without a newline. Raw bytes, no
 * escaping; one writev per record, so a reader never sees two records interleaved. */
static void kube_write(const char *stream, const char *text, size_t len)
{
    int full = len > 0 && text[len - 1] == '\n';
    if (full) {
        len--;
        if (len > 0 && text[len - 1] == '\r') {
            len--;
        }
    }
    char hdr[96];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    size_t n = format_time(&now, hdr, sizeof(hdr));
    int m = snprintf(hdr + n, sizeof(hdr) - n, " %s %c ", stream, full ? 'F' : 'P');
    n += m > 0 ? (size_t)m : 0;

    if (log_fd < 0 && open_log_file() != 0) {
        return; /* a failed (re)open: retry on the next record */
    }
    struct iovec iov[3] = {{hdr, n}, {(void *)text, len}, {(void *)"\n", 1}};
    writev_all(log_fd, iov, 3);
    log_size += n + len + 1;
}

void log_write(const char *stream, const char *text, size_t len)
{
    switch (cfg.driver) {
    case LOG_DRIVER_JSON_FILE:
        json_write(stream, text, len);
        break;
    case LOG_DRIVER_KUBERNETES:
        kube_write(stream, text, len);
        break;
    case LOG_DRIVER_SYSLOG:
        /* the line break is syslog's framing, not part of the message */
        while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r')) {
            len--;
        }
        if (len > 0) {
            int prio = strcmp(stream, "stderr") == 0 ? LOG_ERR : LOG_INFO;
            syslog(prio, "%.*s", (int)(len > INT_MAX ? INT_MAX : len), text);
        }
        break;
    default:
        break;
    }
}
