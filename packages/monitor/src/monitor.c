/*
 * isula-monitor: one per container. Creates the container through the OCI runtime, owns its stdio,
 * feeds the log driver and attach clients, reaps it, and leaves the exit status on disk.
 * The contract with isulad is PROTOCOL.md next to this package; a single-threaded poll() loop.
 */
#define _GNU_SOURCE
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 16384                   /* per-stream line buffer, as PROTOCOL.md says */
#define BACKPRESSURE_LIMIT (1u << 20) /* queued bytes per client before output reading pauses */
#define STDIN_PAUSE (64u * 1024)      /* pending stdin bytes before clients stop being read */
#define DRAIN_QUIET_MS 1000           /* after exit: no output for this long = drained */
#define CLIENT_FLUSH_MS 5000          /* at the end: give clients this long without progress */

enum { FRAME_STDIN = 0, FRAME_STDOUT = 1, FRAME_STDERR = 2, FRAME_RESIZE = 3, FRAME_EXIT = 4, FRAME_REOPEN_LOG = 5 };

/* ---- options and paths ---- */

static const char *opt_id, *opt_bundle, *opt_state, *opt_runtime;
/* --exec: run a process in a running container (`runtime exec --detach --process FILE`) */
static const char *opt_process, *opt_runtime_root;
static int opt_exec;
static const char **opt_rt_args;
static int opt_n_rt_args, opt_terminal, opt_stdin, opt_start, opt_hold, opt_skip_delete;
/* --hold-output: container output stays in its pipes until the first attach client (or this time). */
static struct timespec hold_until;
#define HOLD_OUTPUT_MS 10000
static struct log_config log_cfg = {.driver = LOG_DRIVER_JSON_FILE, .max_file = 1, .syslog_facility = -1};

static char *path_runtime_log, *path_runtime_root, *path_pid, *path_monitor_pid, *path_fifo, *path_attach, *path_console,
    *path_exit, *path_exit_tmp;

static int sync_fd = -1;

static char *state_path(const char *name)
{
    char *p;
    if (asprintf(&p, "%s/%s", opt_state, name) < 0) {
        _exit(1);
    }
    return p;
}

/* ---- fatal start-up errors go to the sync pipe as one line ---- */

static void cleanup_files(void)
{
    if (path_attach != NULL) {
        unlink(path_attach);
    }
    if (path_console != NULL) {
        unlink(path_console);
    }
    if (path_monitor_pid != NULL) {
        unlink(path_monitor_pid);
    }
}

static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t len = n < 0 ? 0 : ((size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '\n' || msg[i] == '\r') {
            msg[i] = ' ';
        }
    }
    while (len > 0 && msg[len - 1] == ' ') {
        len--;
    }
    if (sync_fd >= 0) {
        write_all(sync_fd, "error ", 6);
        write_all(sync_fd, msg, len);
        write_all(sync_fd, "\n", 1);
    }
    write_all(2, "isula-monitor: ", 15);
    write_all(2, msg, len);
    write_all(2, "\n", 1);
    cleanup_files();
    exit(1);
}

static void usage_fail(const char *what)
{
    fail("usage: %s", what);
}

static uint64_t parse_size(const char *s)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || s[0] == '-') {
        usage_fail("bad --log-max-size");
    }
    /* plain bytes per the protocol; k/m/g suffixes accepted as a convenience */
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'b' || *end == 'B') {
        end++;
    }
    if (*end != '\0') {
        usage_fail("bad --log-max-size");
    }
    return v;
}

static void parse_args(int argc, char **argv)
{
    enum { O_ID = 256, O_BUNDLE, O_STATE, O_RUNTIME, O_RT_ARG, O_TERMINAL, O_STDIN, O_START, O_HOLD, O_SKIP_DELETE, O_EXEC, O_PROCESS, O_RUNTIME_ROOT, O_LOG_DRIVER,
           O_LOG_PATH, O_LOG_MAX_SIZE, O_LOG_MAX_FILE, O_SYSLOG_TAG, O_SYSLOG_FACILITY };
    static const struct option longopts[] = {
        {"id", required_argument, NULL, O_ID},
        {"bundle", required_argument, NULL, O_BUNDLE},
        {"state", required_argument, NULL, O_STATE},
        {"runtime", required_argument, NULL, O_RUNTIME},
        {"runtime-arg", required_argument, NULL, O_RT_ARG},
        {"terminal", no_argument, NULL, O_TERMINAL},
        {"stdin", no_argument, NULL, O_STDIN},
        {"start", no_argument, NULL, O_START},
        {"hold-output", no_argument, NULL, O_HOLD},
        {"skip-delete", no_argument, NULL, O_SKIP_DELETE},
        {"exec", no_argument, NULL, O_EXEC},
        {"process", required_argument, NULL, O_PROCESS},
        {"runtime-root", required_argument, NULL, O_RUNTIME_ROOT},
        {"log-driver", required_argument, NULL, O_LOG_DRIVER},
        {"log-path", required_argument, NULL, O_LOG_PATH},
        {"log-max-size", required_argument, NULL, O_LOG_MAX_SIZE},
        {"log-max-file", required_argument, NULL, O_LOG_MAX_FILE},
        {"syslog-tag", required_argument, NULL, O_SYSLOG_TAG},
        {"syslog-facility", required_argument, NULL, O_SYSLOG_FACILITY},
        {NULL, 0, NULL, 0},
    };
    int c;

    opt_rt_args = calloc((size_t)argc, sizeof(char *));
    opterr = 0; /* our own one-line message goes to the sync pipe */
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_ID: opt_id = optarg; break;
        case O_BUNDLE: opt_bundle = optarg; break;
        case O_STATE: opt_state = optarg; break;
        case O_RUNTIME: opt_runtime = optarg; break;
        case O_RT_ARG: opt_rt_args[opt_n_rt_args++] = optarg; break;
        case O_TERMINAL: opt_terminal = 1; break;
        case O_STDIN: opt_stdin = 1; break;
        case O_START: opt_start = 1; break;
        case O_HOLD: opt_hold = 1; break;
        case O_SKIP_DELETE: opt_skip_delete = 1; break;
        case O_EXEC: opt_exec = 1; break;
        case O_PROCESS: opt_process = optarg; break;
        case O_RUNTIME_ROOT: opt_runtime_root = optarg; break;
        case O_LOG_DRIVER:
            if (strcmp(optarg, "json-file") == 0) {
                log_cfg.driver = LOG_DRIVER_JSON_FILE;
            } else if (strcmp(optarg, "syslog") == 0) {
                log_cfg.driver = LOG_DRIVER_SYSLOG;
            } else if (strcmp(optarg, "none") == 0) {
                log_cfg.driver = LOG_DRIVER_NONE;
            } else if (strcmp(optarg, "kubernetes") == 0) {
                log_cfg.driver = LOG_DRIVER_KUBERNETES;
            } else {
                fail("unknown log driver %s", optarg);
            }
            break;
        case O_LOG_PATH: log_cfg.path = optarg; break;
        case O_LOG_MAX_SIZE: log_cfg.max_size = parse_size(optarg); break;
        case O_LOG_MAX_FILE: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (end == optarg || *end != '\0' || v < 1 || v > 1000) {
                usage_fail("bad --log-max-file");
            }
            log_cfg.max_file = (unsigned)v;
            break;
        }
        case O_SYSLOG_TAG: log_cfg.syslog_tag = optarg; break;
        case O_SYSLOG_FACILITY:
            log_cfg.syslog_facility = syslog_facility_by_name(optarg);
            if (log_cfg.syslog_facility < 0) {
                fail("unknown syslog facility %s", optarg);
            }
            break;
        default:
            fail("usage: bad option %s", argv[optind - 1]);
        }
    }
    if (optind != argc) {
        fail("usage: unexpected argument %s", argv[optind]);
    }
    if (opt_exec) {
        if (opt_id == NULL || opt_process == NULL || opt_state == NULL || opt_runtime == NULL || opt_runtime_root == NULL) {
            usage_fail("--exec needs --id, --process, --state, --runtime and --runtime-root");
        }
        /* an exec'd process has no log of its own, and the container is not ours to delete */
        log_cfg.driver = LOG_DRIVER_NONE;
        opt_start = 0;
        opt_skip_delete = 1;
    } else if (opt_id == NULL || opt_bundle == NULL || opt_state == NULL || opt_runtime == NULL) {
        usage_fail("--id, --bundle, --state and --runtime are required");
    } else if (log_cfg.driver == LOG_DRIVER_KUBERNETES && (log_cfg.path == NULL || log_cfg.path[0] == '\0')) {
        usage_fail("--log-driver kubernetes needs --log-path");
    }
    if (log_cfg.syslog_facility < 0) {
        log_cfg.syslog_facility = syslog_facility_by_name("daemon");
    }
    if (log_cfg.syslog_tag == NULL) {
        static char tag[13]; /* Docker's default: the short container id */
        snprintf(tag, sizeof(tag), "%s", opt_id);
        log_cfg.syslog_tag = tag;
    }
}

/* ---- runtime processes ---- */

static sigset_t blocked_signals;

static void child_reset_signals(void)
{
    /* SIG_IGN and the blocked mask survive exec: the container must start with defaults */
    signal(SIGPIPE, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

/* argv for "<runtime> [args] --root <state>/runtime <verb...>" */
static char **runtime_argv(const char *const *verb)
{
    size_t nverb = 0;
    while (verb[nverb] != NULL) {
        nverb++;
    }
    char **argv = calloc((size_t)opt_n_rt_args + nverb + 8, sizeof(char *));
    size_t k = 0;
    argv[k++] = (char *)opt_runtime;
    for (int i = 0; i < opt_n_rt_args; i++) {
        argv[k++] = (char *)opt_rt_args[i];
    }
    /* The runtime's own messages go to a file, never into the container's stderr stream. */
    argv[k++] = "--log";
    argv[k++] = path_runtime_log;
    argv[k++] = "--log-format";
    argv[k++] = "json";
    argv[k++] = "--root";
    argv[k++] = path_runtime_root;
    for (size_t i = 0; i < nverb; i++) {
        argv[k++] = (char *)verb[i];
    }
    argv[k] = NULL;
    return argv;
}

/* The error/fatal messages of the runtime's JSON log (`{"level":"error","msg":"..."}` lines), joined
 * with "; ", unescaped enough for one readable line. */
static size_t runtime_log_errors(char *buf, size_t cap)
{
    FILE *f = fopen(path_runtime_log, "r");
    size_t len = 0;
    if (f == NULL) {
        return 0;
    }
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "\"level\":\"error\"") == NULL && strstr(line, "\"level\":\"fatal\"") == NULL) {
            continue;
        }
        char *m = strstr(line, "\"msg\":\"");
        if (m == NULL) {
            continue;
        }
        m += 7;
        if (len > 0 && len + 2 < cap) {
            buf[len++] = ';';
            buf[len++] = ' ';
        }
        for (; *m != '\0' && *m != '"' && len + 1 < cap; m++) {
            if (*m == '\\' && m[1] != '\0') {
                m++;
                buf[len++] = *m == 'n' ? ' ' : *m == 't' ? ' ' : *m;
            } else {
                buf[len++] = *m;
            }
        }
    }
    fclose(f);
    buf[len] = '\0';
    return len;
}

static pid_t spawn(char **argv, int in, int out, int err)
{
    pid_t pid = fork();
    if (pid != 0) {
        return pid;
    }
    child_reset_signals();
    /* out/err may be the same fd: dup2 each in turn, sources are never 0..2 (see reserve_std_fds) */
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) {
        _exit(127);
    }
    execv(argv[0], argv);
    dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

static int open_devnull(void)
{
    return open("/dev/null", O_RDWR | O_CLOEXEC);
}

/* runtime delete --force, output ignored */
static void runtime_delete(void)
{
    static const char *const verb[] = {"delete", "--force", NULL};
    const char *v[4] = {verb[0], verb[1], opt_id, NULL};
    char **argv = runtime_argv(v);
    int null = open_devnull();
    pid_t pid = spawn(argv, null, null, null);
    close(null);
    free(argv);
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
        }
    }
}

/* ---- container stdio ---- */

struct stream {
    int fd;
    unsigned char frame_type;
    const char *name;
    size_t len;
    char buf[CHUNK];
};

static struct stream out_stream = {.fd = -1, .frame_type = FRAME_STDOUT, .name = "stdout"};
static struct stream err_stream = {.fd = -1, .frame_type = FRAME_STDERR, .name = "stderr"};
static int pty_master = -1; /* with --terminal: same file as out_stream.fd, kept for resize */

static int stdin_fd = -1;
static char *stdin_q;
static size_t stdin_len, stdin_cap;
static int stdin_close_pending, stdin_close_done;

/* ---- attach clients ---- */

struct frame {
    struct frame *next;
    size_t len, off;
    char data[];
};

struct client {
    int fd;
    int rd_closed; /* peer shut down its writing side: keep sending to it */
    int control;   /* sent a control frame (reopen log): gets no output, does not end --hold-output */
    struct frame *head, *tail;
    size_t queued;
    unsigned char hdr[5];
    size_t hdr_len;
    unsigned char type;
    uint32_t frame_len, remaining;
    unsigned char resize[4];
    size_t resize_len;
};

static struct client **clients;
static size_t nclients, cap_clients;
static int listen_fd = -1;

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static void client_drop(struct client *c)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    while (c->head != NULL) {
        struct frame *f = c->head;
        c->head = f->next;
        free(f);
    }
    c->tail = NULL;
    c->queued = 0;
}

static void clients_compact(void)
{
    size_t k = 0;
    for (size_t i = 0; i < nclients; i++) {
        if (clients[i]->fd >= 0) {
            clients[k++] = clients[i];
        } else {
            free(clients[i]);
        }
    }
    nclients = k;
}

/* Sends a frame, queueing what the socket does not take now. */
static void client_send(struct client *c, const unsigned char *hdr, const char *data, size_t len)
{
    size_t total = 5 + len, done = 0;
    if (c->fd < 0) {
        return;
    }
    if (c->head == NULL) {
        struct iovec iov[2] = {{(void *)hdr, 5}, {(void *)data, len}};
        ssize_t n;
        do {
            n = writev(c->fd, iov, len > 0 ? 2 : 1);
        } while (n < 0 && errno == EINTR);
        if (n < 0) {
            if (errno != EAGAIN) {
                client_drop(c);
                return;
            }
            n = 0;
        }
        done = (size_t)n;
        if (done == total) {
            return;
        }
    }
    struct frame *f = malloc(sizeof(*f) + total - done);
    if (f == NULL) {
        client_drop(c);
        return;
    }
    f->next = NULL;
    f->off = 0;
    f->len = total - done;
    char *p = f->data;
    if (done < 5) {
        memcpy(p, hdr + done, 5 - done);
        p += 5 - done;
        memcpy(p, data, len);
    } else {
        memcpy(p, data + (done - 5), total - done);
    }
    if (c->tail != NULL) {
        c->tail->next = f;
    } else {
        c->head = f;
    }
    c->tail = f;
    c->queued += f->len;
}

static void client_flush(struct client *c)
{
    while (c->fd >= 0 && c->head != NULL) {
        struct frame *f = c->head;
        ssize_t n = write(c->fd, f->data + f->off, f->len - f->off);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN) {
                client_drop(c);
            }
            return;
        }
        f->off += (size_t)n;
        c->queued -= (size_t)n;
        if (f->off == f->len) {
            c->head = f->next;
            if (c->head == NULL) {
                c->tail = NULL;
            }
            free(f);
        }
    }
}

static void broadcast(unsigned char type, const char *data, size_t len)
{
    unsigned char hdr[5];
    hdr[0] = type;
    put_be32(hdr + 1, (uint32_t)len);
    for (size_t i = 0; i < nclients; i++) {
        if (!clients[i]->control) {
            client_send(clients[i], hdr, data, len);
        }
    }
}

/* Clients that receive the output (attach), as opposed to control connections. */
static size_t output_clients(void)
{
    size_t n = 0;
    for (size_t i = 0; i < nclients; i++) {
        if (clients[i]->fd >= 0 && !clients[i]->control) {
            n++;
        }
    }
    return n;
}

static long hold_remaining_ms(void)
{
    if (!opt_hold || output_clients() > 0) {
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long ms = (hold_until.tv_sec - now.tv_sec) * 1000 + (hold_until.tv_nsec - now.tv_nsec) / 1000000;
    if (ms <= 0) {
        opt_hold = 0;
        return 0;
    }
    return ms;
}

static int output_paused(void)
{
    if (hold_remaining_ms() > 0) {
        return 1;
    }
    for (size_t i = 0; i < nclients; i++) {
        if (clients[i]->fd >= 0 && clients[i]->queued > BACKPRESSURE_LIMIT) {
            return 1;
        }
    }
    return 0;
}

/* ---- stdin ---- */

static void stdin_close_now(void)
{
    if (stdin_fd >= 0) {
        if (opt_terminal) {
            /* a pty cannot be half-closed: VEOF (^D) is the terminal's end of input */
            ssize_t r = write(stdin_fd, "\x04", 1);
            (void)r;
        }
        close(stdin_fd);
        stdin_fd = -1;
    }
    stdin_len = 0;
    stdin_close_pending = 0;
}

static void stdin_flush(void)
{
    while (stdin_fd >= 0 && stdin_len > 0) {
        ssize_t n = write(stdin_fd, stdin_q, stdin_len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN) {
                return;
            }
            /* EPIPE: the container closed its stdin; what is left has no reader */
            stdin_close_now();
            return;
        }
        memmove(stdin_q, stdin_q + n, stdin_len - (size_t)n);
        stdin_len -= (size_t)n;
    }
    if (stdin_len == 0 && stdin_close_pending) {
        stdin_close_now();
    }
}

static void stdin_push(const char *data, size_t len)
{
    if (stdin_fd < 0 || stdin_close_pending || len == 0) {
        return;
    }
    if (stdin_len + len > stdin_cap) {
        size_t ncap = stdin_cap ? stdin_cap : 4096;
        while (ncap < stdin_len + len) {
            ncap *= 2;
        }
        char *q = realloc(stdin_q, ncap);
        if (q == NULL) {
            return;
        }
        stdin_q = q;
        stdin_cap = ncap;
    }
    memcpy(stdin_q + stdin_len, data, len);
    stdin_len += len;
}

static void stdin_shrink(void)
{
    /* give back a buffer grown by a burst, keep the monitor small while idle */
    if (stdin_len == 0 && stdin_cap > 4096) {
        free(stdin_q);
        stdin_q = NULL;
        stdin_cap = 0;
    }
}

/* Reopen log: the log file's path is opened anew; the answer goes to the asking client only, a
 * FRAME_REOPEN_LOG frame with an empty payload for success or the error text. */
static void reopen_log(struct client *c)
{
    char msg[PATH_MAX + 128];
    size_t len = 0;
    c->control = 1;
    if (log_reopen() < 0) {
        int n = snprintf(msg, sizeof(msg), "reopen log %s: %s", log_cfg.path ? log_cfg.path : "", strerror(errno));
        len = n < 0 ? 0 : ((size_t)n >= sizeof(msg) ? sizeof(msg) - 1 : (size_t)n);
    }
    unsigned char hdr[5];
    hdr[0] = FRAME_REOPEN_LOG;
    put_be32(hdr + 1, (uint32_t)len);
    client_send(c, hdr, msg, len);
}

static void frame_done(struct client *c)
{
    if (c->type == FRAME_REOPEN_LOG) {
        reopen_log(c);
    } else if (c->type == FRAME_STDIN && c->frame_len == 0) {
        if (!stdin_close_done) { /* the first empty frame closes stdin, later ones are no-ops */
            stdin_close_done = 1;
            stdin_close_pending = 1;
        }
    } else if (c->type == FRAME_RESIZE && c->resize_len == 4 && pty_master >= 0) {
        struct winsize ws = {0};
        ws.ws_row = (unsigned short)((c->resize[0] << 8) | c->resize[1]);
        ws.ws_col = (unsigned short)((c->resize[2] << 8) | c->resize[3]);
        ioctl(pty_master, TIOCSWINSZ, &ws);
    }
    c->hdr_len = 0;
}

static void client_parse(struct client *c, const char *buf, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (c->hdr_len < 5) {
            size_t k = 5 - c->hdr_len;
            if (k > n - i) {
                k = n - i;
            }
            memcpy(c->hdr + c->hdr_len, buf + i, k);
            c->hdr_len += k;
            i += k;
            if (c->hdr_len == 5) {
                c->type = c->hdr[0];
                c->frame_len = c->remaining = ((uint32_t)c->hdr[1] << 24) | ((uint32_t)c->hdr[2] << 16) |
                                              ((uint32_t)c->hdr[3] << 8) | c->hdr[4];
                c->resize_len = 0;
                if (c->remaining == 0) {
                    frame_done(c);
                }
            }
            continue;
        }
        size_t k = c->remaining < n - i ? c->remaining : n - i;
        if (c->type == FRAME_STDIN) {
            stdin_push(buf + i, k);
        } else if (c->type == FRAME_RESIZE) {
            for (size_t j = 0; j < k && c->resize_len < 4; j++) {
                c->resize[c->resize_len++] = (unsigned char)buf[i + j];
            }
        } /* other types: payload skipped */
        i += k;
        c->remaining -= (uint32_t)k;
        if (c->remaining == 0) {
            frame_done(c);
        }
    }
}

static void client_read(struct client *c)
{
    char buf[4096];
    ssize_t n = read(c->fd, buf, sizeof(buf));
    if (n < 0) {
        if (errno != EINTR && errno != EAGAIN) {
            client_drop(c);
        }
        return;
    }
    if (n == 0) {
        c->rd_closed = 1;
        return;
    }
    client_parse(c, buf, (size_t)n);
}

static void accept_clients(void)
{
    for (;;) {
        int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            return; /* EAGAIN, or a transient error (EMFILE): try on the next wake-up */
        }
        if (nclients == cap_clients) {
            size_t ncap = cap_clients ? cap_clients * 2 : 4;
            struct client **nc = realloc(clients, ncap * sizeof(*nc));
            if (nc == NULL) {
                close(fd);
                return;
            }
            clients = nc;
            cap_clients = ncap;
        }
        struct client *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            close(fd);
            return;
        }
        c->fd = fd;
        clients[nclients++] = c;
    }
}

/* ---- output: attach frames + log records ---- */

/* Bytes at the end of buf that start a UTF-8 character not yet complete (kept for the next read). */
static size_t utf8_incomplete_tail(const char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    for (size_t back = 1; back <= 3 && back <= len; back++) {
        unsigned char c = p[len - back];
        if (c >= 0xc0) {
            return utf8_seq_len(p + len - back, back) < 0 ? back : 0;
        }
        if (c < 0x80) {
            return 0;
        }
    }
    return 0;
}

/* Emits the complete lines in the buffer; a partial line only when the buffer is full or at the end. */
static void stream_lines(struct stream *s, int final)
{
    size_t start = 0;
    if (log_cfg.driver == LOG_DRIVER_NONE) {
        s->len = 0;
        return;
    }
    for (;;) {
        char *nl = memchr(s->buf + start, '\n', s->len - start);
        if (nl == NULL) {
            break;
        }
        size_t end = (size_t)(nl - s->buf) + 1;
        log_write(s->name, s->buf + start, end - start);
        start = end;
    }
    size_t rest = s->len - start;
    if (rest > 0 && (final || (start == 0 && s->len == CHUNK))) { /* one line fills the buffer */
        size_t keep = final ? 0 : utf8_incomplete_tail(s->buf + start, rest);
        if (!final && keep == 0 && log_cfg.driver == LOG_DRIVER_KUBERNETES && s->buf[start + rest - 1] == '\r') {
            keep = 1; /* may be the "\r" of a "\r\n" (dropped from an F record), as containerd does */
        }
        if (keep == rest) {
            keep = 0;
        }
        log_write(s->name, s->buf + start, rest - keep);
        start += rest - keep;
        rest = keep;
    }
    if (start > 0) {
        memmove(s->buf, s->buf + start, rest);
    }
    s->len = rest;
}

static void stream_eof(struct stream *s)
{
    if (s->fd >= 0) {
        if (s->fd == pty_master) {
            pty_master = -1;
        }
        close(s->fd);
        s->fd = -1;
    }
    stream_lines(s, 1);
}

static void stream_read(struct stream *s)
{
    ssize_t n = read(s->fd, s->buf + s->len, CHUNK - s->len);
    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return;
        }
        stream_eof(s); /* EIO on a pty master: the slave side is gone */
        return;
    }
    if (n == 0) {
        stream_eof(s);
        return;
    }
    broadcast(s->frame_type, s->buf + s->len, (size_t)n);
    s->len += (size_t)n;
    stream_lines(s, 0);
}

/* ---- start-up ---- */

static void reserve_std_fds(void)
{
    /* 0..3 must be taken, so no pipe or socket we make lands on them (3 is the sync pipe) */
    for (int fd = 0; fd <= 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n >= 0 && n != fd) {
                dup2(n, fd);
                close(n);
            }
        } else if (fd == 3) {
            sync_fd = 3;
        }
    }
    set_cloexec(3); /* neither the runtime nor the container may hold the sync pipe */
}

static int listen_unix(const char *path)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    strcpy(addr.sun_path, path);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    mode_t old = umask(0077); /* the socket file is 0600 from the moment it exists */
    int r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
    umask(old);
    if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 64) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static int recv_console(int conn)
{
    char text[256];
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {text, sizeof(text)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof(cm.b)};
    ssize_t n;
    do {
        n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -1;
    }
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&msg); h != NULL; h = CMSG_NXTHDR(&msg, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS && h->cmsg_len == CMSG_LEN(sizeof(int))) {
            int fd;
            memcpy(&fd, CMSG_DATA(h), sizeof(int));
            return fd;
        }
    }
    errno = EBADMSG;
    return -1;
}

static pid_t read_pid_file(const char *path)
{
    char buf[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return -1;
    }
    buf[n] = '\0';
    long v = strtol(buf, NULL, 10);
    return v > 0 && v <= INT_MAX ? (pid_t)v : -1;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        write_all(fd, text, strlen(text));
        close(fd);
    }
}

/* Runs runtime create; returns the container's pid or fails with the runtime's stderr. */
static pid_t create_container(int sig_fd)
{
    int devnull = open_devnull();
    int child_in, child_out, child_err, capture = -1, console_listen = -1;
    int p[2];

    if (devnull < 0) {
        fail("open /dev/null: %s", strerror(errno));
    }
    if (opt_terminal) {
        console_listen = listen_unix(path_console);
        if (console_listen < 0) {
            fail("listen on %s: %s", path_console, strerror(errno));
        }
        if (pipe2(p, O_CLOEXEC) < 0) {
            fail("pipe: %s", strerror(errno));
        }
        capture = p[0];
        child_in = devnull;
        child_out = child_err = p[1];
    } else {
        int o[2], e[2];
        if (pipe2(o, O_CLOEXEC) < 0 || pipe2(e, O_CLOEXEC) < 0) {
            fail("pipe: %s", strerror(errno));
        }
        out_stream.fd = o[0];
        err_stream.fd = e[0];
        child_out = o[1];
        child_err = e[1];
        if (opt_stdin) {
            int i[2];
            if (pipe2(i, O_CLOEXEC) < 0) {
                fail("pipe: %s", strerror(errno));
            }
            child_in = i[0];
            stdin_fd = i[1];
        } else {
            child_in = devnull;
        }
        /* The container's stderr is never read as the runtime's: with --start it may already have
         * written there. The runtime's error text comes from its --log file. */
    }
    if (capture >= 0) {
        set_nonblock(capture);
    }

    /* --start: `run --detach` creates and starts in one runtime process;
     * --exec: `exec --detach --process FILE` starts a process in the running container */
    const char *verb[12] = {opt_start ? "run" : "create", "--bundle", opt_bundle, "--pid-file", path_pid, NULL};
    size_t k = 5;
    if (opt_exec) {
        verb[0] = "exec";
        verb[1] = "--detach";
        verb[2] = "--pid-file";
        verb[3] = path_pid;
        verb[4] = "--process";
        verb[5] = opt_process;
        k = 6;
    } else if (opt_start) {
        verb[k++] = "--detach";
    }
    if (opt_terminal) {
        /* runc changes into the bundle before it dials, so the socket is named through our cwd */
        static char console_arg[64];
        snprintf(console_arg, sizeof(console_arg), "/proc/%d/cwd/%s", (int)getpid(), path_console);
        verb[k++] = "--console-socket";
        verb[k++] = console_arg;
    }
    verb[k++] = opt_id;
    char **argv = runtime_argv(verb);
    pid_t rpid = spawn(argv, child_in, child_out, child_err);
    int spawn_errno = errno;
    free(argv);
    if (child_in != devnull) {
        close(child_in);
    }
    close(child_out);
    if (child_err != child_out) {
        close(child_err);
    }
    close(devnull);
    if (rpid < 0) {
        fail("fork: %s", strerror(spawn_errno));
    }

    char errbuf[2048];
    size_t errlen = 0;
    int status = 0, done = 0;
    while (!done) {
        struct pollfd pf[3];
        int np = 0;
        pf[np++] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        pf[np++] = (struct pollfd){.fd = capture, .events = capture >= 0 ? POLLIN : 0};
        pf[np++] = (struct pollfd){.fd = pty_master < 0 ? console_listen : -1, .events = POLLIN};
        if (poll(pf, (nfds_t)np, 200) < 0 && errno != EINTR) {
            fail("poll: %s", strerror(errno));
        }
        if (pf[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sig_fd, &si, sizeof(si)) > 0) {
            }
        }
        pid_t w = waitpid(rpid, &status, WNOHANG);
        done = w == rpid || (w < 0 && errno == ECHILD);
        /* after exit, one last non-blocking pass over the capture pipe and console socket */
        if (capture >= 0 && (done || (pf[1].revents & (POLLIN | POLLHUP)))) {
            char tmp[1024];
            ssize_t n;
            while ((n = read(capture, tmp, sizeof(tmp))) > 0) {
                size_t room = sizeof(errbuf) - 1 - errlen;
                size_t c = (size_t)n < room ? (size_t)n : room;
                memcpy(errbuf + errlen, tmp, c);
                errlen += c;
            }
        }
        if (opt_terminal && pty_master < 0 && (done || (pf[2].revents & POLLIN))) {
            int conn = accept4(console_listen, NULL, NULL, SOCK_CLOEXEC);
            if (conn >= 0) {
                pty_master = recv_console(conn);
                close(conn);
            }
        }
    }
    errbuf[errlen] = '\0';
    if (opt_terminal) {
        close(capture);
        close(console_listen);
        unlink(path_console);
    }

    int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        if (errlen == 0) {
            errlen = runtime_log_errors(errbuf, sizeof(errbuf));
        }
        if (errlen == 0 && err_stream.fd >= 0) {
            /* no log (a wrapper that failed before the runtime ran): what it printed on stderr */
            set_nonblock(err_stream.fd);
            ssize_t n = read(err_stream.fd, errbuf, sizeof(errbuf) - 1);
            errlen = n > 0 ? (size_t)n : 0;
            while (errlen > 0 && (errbuf[errlen - 1] == '\n' || errbuf[errlen - 1] == ' ')) {
                errlen--;
            }
            for (size_t i = 0; i < errlen; i++) {
                if (errbuf[i] == '\n') {
                    errbuf[i] = ' ';
                }
            }
            errbuf[errlen] = '\0';
        }
        if (errlen > 0) {
            fail("%s", errbuf);
        }
        if (WIFSIGNALED(status)) {
            fail("runtime %s killed by signal %d", verb[0], WTERMSIG(status));
        }
        fail("runtime %s exited with status %d", verb[0], WEXITSTATUS(status));
    }
    pid_t pid = read_pid_file(path_pid);
    if (pid <= 0) {
        if (!opt_exec) {
            runtime_delete();
        }
        fail("runtime %s left no pid in %s", verb[0], path_pid);
    }
    if (opt_terminal) {
        if (pty_master < 0) {
            if (opt_exec) {
                kill(pid, SIGKILL);
            } else {
                runtime_delete();
            }
            fail("no pty master received on %s", path_console);
        }
        set_nonblock(pty_master);
        out_stream.fd = pty_master;
        stdin_fd = dup(pty_master); /* closing stdin (^D) must not close the output side */
        if (stdin_fd >= 0) {
            set_cloexec(stdin_fd);
        }
    } else {
        set_nonblock(out_stream.fd);
        set_nonblock(err_stream.fd);
        if (stdin_fd >= 0) {
            set_nonblock(stdin_fd);
        }
    }
    return pid;
}

/* ---- the end ---- */

static void flush_clients_before_exit(void)
{
    struct timespec last, now;
    clock_gettime(CLOCK_MONOTONIC, &last);
    struct pollfd *pf = calloc(nclients ? nclients : 1, sizeof(*pf));
    if (pf == NULL) {
        return;
    }
    for (;;) {
        nfds_t n = 0;
        for (size_t i = 0; i < nclients; i++) {
            if (clients[i]->fd >= 0 && clients[i]->head != NULL) {
                pf[n++] = (struct pollfd){.fd = clients[i]->fd, .events = POLLOUT};
            }
        }
        if (n == 0) {
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        long waited = (now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000;
        if (waited >= CLIENT_FLUSH_MS) {
            break; /* a client that stopped reading does not keep us alive */
        }
        int r = poll(pf, n, (int)(CLIENT_FLUSH_MS - waited));
        if (r < 0 && errno != EINTR) {
            break;
        }
        if (r > 0) {
            clock_gettime(CLOCK_MONOTONIC, &last);
            for (size_t i = 0; i < nclients; i++) {
                client_flush(clients[i]);
            }
        }
    }
    free(pf);
}

/* `runtime start` removes exec.fifo only after the process has exec'd; a container that exits at
 * once could otherwise be deleted under it and the daemon's start would fail. Give start a moment. */
static void wait_for_runtime_start(void)
{
    char *fifo;
    if (asprintf(&fifo, "%s/%s/exec.fifo", path_runtime_root, opt_id) < 0) {
        return;
    }
    for (int i = 0; i < 100 && access(fifo, F_OK) == 0; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    free(fifo);
}

static void finish(int status, const struct timespec *finished)
{
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    char ts[48], text[80];

    log_close();
    /* --skip-delete: the daemon removes the cgroups itself (no poststop hooks to run), sparing a
     * runtime process on every exit; the runtime's state dir goes with the run directory. */
    if (!opt_skip_delete) {
        wait_for_runtime_start();
        runtime_delete();
    }

    format_time(finished, ts, sizeof(ts));
    snprintf(text, sizeof(text), "%d %s\n", code, ts);
    int fd = open(path_exit_tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        write_all(fd, text, strlen(text));
        fsync(fd);
        close(fd);
        rename(path_exit_tmp, path_exit);
    }

    unsigned char payload[4];
    put_be32(payload, (uint32_t)code);
    broadcast(FRAME_EXIT, (const char *)payload, 4);
    flush_clients_before_exit();
    for (size_t i = 0; i < nclients; i++) {
        client_drop(clients[i]);
    }
    close(listen_fd);
    unlink(path_attach);
    unlink(path_monitor_pid);
    exit(0); /* the exit.fifo write end goes with us: the daemon's reader sees EOF */
}

/* ---- main loop ---- */

enum { K_LISTEN, K_SIGNAL, K_OUT, K_ERR, K_STDIN, K_CLIENT };

static void run(int sig_fd, pid_t container)
{
    struct pollfd *pf = NULL;
    int *kind = NULL;
    size_t cap = 0;
    int exited = 0, status = 0;
    struct timespec finished = {0};

    /* With --start the container may have exited while create waited for the runtime: that
     * SIGCHLD was consumed there (signals coalesce), so look once before waiting for the next. */
    {
        int st;
        pid_t w;
        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
            if (w == container && !exited) {
                exited = 1;
                status = st;
                clock_gettime(CLOCK_REALTIME, &finished);
            }
        }
    }

    for (;;) {
        if (exited && out_stream.fd < 0 && err_stream.fd < 0) {
            finish(status, &finished);
        }
        clients_compact();
        stdin_shrink();
        size_t need = 5 + nclients;
        if (need > cap) {
            cap = need * 2;
            pf = realloc(pf, cap * sizeof(*pf));
            kind = realloc(kind, cap * sizeof(*kind));
            if (pf == NULL || kind == NULL) {
                _exit(1);
            }
        }
        int paused = output_paused();
        nfds_t n = 0;
        if (listen_fd >= 0) {
            pf[n] = (struct pollfd){.fd = listen_fd, .events = POLLIN};
            kind[n++] = K_LISTEN;
        }
        pf[n] = (struct pollfd){.fd = sig_fd, .events = POLLIN};
        kind[n++] = K_SIGNAL;
        if (out_stream.fd >= 0 && !paused) {
            pf[n] = (struct pollfd){.fd = out_stream.fd, .events = POLLIN};
            kind[n++] = K_OUT;
        }
        if (err_stream.fd >= 0 && !paused) {
            pf[n] = (struct pollfd){.fd = err_stream.fd, .events = POLLIN};
            kind[n++] = K_ERR;
        }
        if (stdin_fd >= 0 && stdin_len > 0) {
            pf[n] = (struct pollfd){.fd = stdin_fd, .events = POLLOUT};
            kind[n++] = K_STDIN;
        }
        size_t first_client = n;
        for (size_t i = 0; i < nclients; i++) {
            short ev = 0;
            if (clients[i]->head != NULL) {
                ev |= POLLOUT;
            }
            if (!clients[i]->rd_closed && stdin_len < STDIN_PAUSE) {
                ev |= POLLIN;
            }
            pf[n] = (struct pollfd){.fd = clients[i]->fd, .events = ev};
            kind[n++] = K_CLIENT;
        }

        long hold = hold_remaining_ms();
        int r = poll(pf, n, hold > 0 ? (int)hold : exited && !paused ? DRAIN_QUIET_MS : -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            _exit(1);
        }
        if (r == 0 && hold > 0) {
            continue; /* the hold ran out: output flows from the next round */
        }
        if (r == 0 && exited) {
            /* init is gone and nothing more came: a leftover holder of the pipes keeps them open */
            stream_eof(&out_stream);
            stream_eof(&err_stream);
            continue;
        }
        for (nfds_t i = 0; i < n; i++) {
            short re = pf[i].revents;
            if (re == 0) {
                continue;
            }
            switch (kind[i]) {
            case K_LISTEN:
                accept_clients();
                break;
            case K_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(sig_fd, &si, sizeof(si)) > 0) {
                }
                int st;
                pid_t w;
                while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
                    if (w == container && !exited) { /* other orphans are reaped and ignored */
                        exited = 1;
                        status = st;
                        clock_gettime(CLOCK_REALTIME, &finished);
                    }
                }
                break;
            }
            case K_OUT:
                stream_read(&out_stream);
                break;
            case K_ERR:
                stream_read(&err_stream);
                break;
            case K_STDIN:
                if (re & (POLLERR | POLLHUP)) {
                    stdin_close_now();
                } else {
                    stdin_flush();
                }
                break;
            case K_CLIENT: {
                struct client *c = clients[i - first_client];
                if (c->fd < 0) {
                    break;
                }
                if (re & POLLOUT) {
                    client_flush(c);
                }
                if (c->fd >= 0 && (re & POLLIN)) {
                    client_read(c);
                    stdin_flush();
                }
                if (c->fd >= 0 && (re & (POLLHUP | POLLERR | POLLNVAL)) && !(re & POLLIN)) {
                    client_drop(c); /* gone in both directions */
                }
                break;
            }
            }
        }
    }
}

int main(int argc, char **argv)
{
    reserve_std_fds();
    parse_args(argc, argv);

    path_runtime_root = opt_runtime_root != NULL ? (char *)opt_runtime_root : state_path("runtime");
    path_runtime_log = state_path("log.json");
    path_pid = state_path("pid");
    path_monitor_pid = state_path("monitor.pid");
    path_fifo = state_path("exit.fifo");
    /* Sockets are bound by relative name from inside the state dir: absolute paths there can pass
     * the 108-byte sun_path limit. The runtime inherits this cwd for --console-socket. */
    if (chdir(opt_state) < 0) {
        fail("chdir %s: %s", opt_state, strerror(errno));
    }
    path_attach = "attach.sock";
    path_console = "console.sock";
    path_exit = state_path("exit");
    path_exit_tmp = state_path("exit.tmp");
    if (log_cfg.driver == LOG_DRIVER_JSON_FILE && log_cfg.path == NULL) {
        log_cfg.path = state_path("console.log");
    }

    /* 1. own session, subreaper (the container's init is re-parented to us), no stray signals */
    setsid(); /* fails harmlessly when the spawner already made us a session leader */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
        fail("prctl(PR_SET_CHILD_SUBREAPER): %s", strerror(errno));
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGTERM, SIG_IGN); /* the daemon stops containers through the runtime, never through us */
    signal(SIGINT, SIG_IGN);
    sigemptyset(&blocked_signals);
    sigaddset(&blocked_signals, SIGCHLD);
    sigprocmask(SIG_BLOCK, &blocked_signals, NULL);
    int sig_fd = signalfd(-1, &blocked_signals, SFD_NONBLOCK | SFD_CLOEXEC);
    if (sig_fd < 0) {
        fail("signalfd: %s", strerror(errno));
    }
    char pidtext[24];
    snprintf(pidtext, sizeof(pidtext), "%d\n", (int)getpid());
    write_file(path_monitor_pid, pidtext);

    /* 2. exit.fifo: we hold its only writer for our whole life */
    if (mkfifo(path_fifo, 0600) < 0 && errno != EEXIST) {
        fail("mkfifo %s: %s", path_fifo, strerror(errno));
    }
    int fifo_fd = open(path_fifo, O_RDWR | O_CLOEXEC);
    if (fifo_fd < 0) {
        fail("open %s: %s", path_fifo, strerror(errno));
    }

    /* 3. attach.sock */
    listen_fd = listen_unix(path_attach);
    if (listen_fd < 0) {
        fail("listen on %s: %s", path_attach, strerror(errno));
    }

    if (log_open(&log_cfg) < 0) {
        fail("open log %s: %s", log_cfg.path ? log_cfg.path : "", strerror(errno));
    }

    /* 4. runtime create */
    pid_t container = create_container(sig_fd);
    clock_gettime(CLOCK_MONOTONIC, &hold_until);
    hold_until.tv_sec += HOLD_OUTPUT_MS / 1000;

    /* 5. handshake done */
    if (sync_fd >= 0) {
        char line[32];
        snprintf(line, sizeof(line), "ok %d\n", (int)container);
        write_all(sync_fd, line, strlen(line));
        close(sync_fd);
        sync_fd = -1;
        int null = open_devnull(); /* keep fd 3 taken */
        if (null >= 0 && null != 3) {
            dup2(null, 3);
            close(null);
        }
    }

    run(sig_fd, container);
    return 0;
}
