/*
 * The few system calls Node does not expose and the daemon needs:
 *  - lockFile(fd): fcntl(F_SETLK, F_WRLCK) on the whole file, the pidfile lock upstream iSulad takes,
 *    so our daemon and the C one refuse each other alike;
 *  - notify(socketPath, message): one datagram on systemd's NOTIFY_SOCKET (unix datagram sockets are
 *    not reachable from Node's dgram module);
 *  - mkfifo(path, mode): FIFOs for container stdio;
 *  - mknod(path, mode, major, minor): overlay whiteouts are character devices 0:0;
 *  - lsetxattr(path, name, value): overlay opaque directories (trusted.overlay.opaque=y);
 *  - lgetxattr(path, name): reads one back (layer checks, tests);
 *  - direntTypes(dir): whether readdir reports d_type (overlay2's backing-filesystem check);
 *  - mount(source, target, fstype, flags, data, cb) / umount(target, flags, cb): mount(2) and
 *    umount2(2) on a worker thread, without spawning mount(8) for every container start and exit.
 * Errors come back as JS exceptions carrying errno's text and code.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

static napi_value throw_errno(napi_env env, const char *what, int err)
{
    char msg[256];
    const char *name = strerrorname_np(err); /* "EPERM", like Node's own error codes */

    snprintf(msg, sizeof(msg), "%s: %s", what, strerror(err));
    napi_throw_error(env, name != NULL ? name : "EUNKNOWN", msg);
    return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len)
{
    size_t out = 0;
    if (napi_get_value_string_utf8(env, v, buf, len, &out) != napi_ok || out >= len - 1) {
        return -1;
    }
    return 0;
}

/* lockFile(fd: number): boolean  -- true when locked, false when another process holds it */
static napi_value lock_file(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    int32_t fd = -1;
    napi_value result;
    struct flock fl;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok) {
        napi_throw_type_error(env, NULL, "lockFile(fd) expects a file descriptor");
        return NULL;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        if (errno == EAGAIN || errno == EACCES) {
            napi_get_boolean(env, false, &result);
            return result;
        }
        return throw_errno(env, "fcntl", errno);
    }
    napi_get_boolean(env, true, &result);
    return result;
}

/* notify(socketPath: string, message: string): void  -- sd_notify without libsystemd */
static napi_value notify(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    char message[1024];
    struct sockaddr_un addr;
    socklen_t addr_len;
    size_t path_len;
    int fd;
    ssize_t sent;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 2 || get_string(env, argv[0], path, sizeof(path)) != 0 ||
        get_string(env, argv[1], message, sizeof(message)) != 0) {
        napi_throw_type_error(env, NULL, "notify(socketPath, message) expects two short strings");
        return NULL;
    }
    path_len = strlen(path);
    if (path_len == 0 || path_len >= sizeof(addr.sun_path)) {
        napi_throw_range_error(env, NULL, "NOTIFY_SOCKET path is empty or too long");
        return NULL;
    }
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, path, path_len);
    if (path[0] == '@') {
        addr.sun_path[0] = '\0'; /* abstract namespace */
    }
    addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return throw_errno(env, "socket", errno);
    }
    sent = sendto(fd, message, strlen(message), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    if (sent < 0) {
        int err = errno;
        close(fd);
        return throw_errno(env, "sendto", err);
    }
    close(fd);
    return NULL;
}

/* mkfifo(path: string, mode: number): void */
static napi_value make_fifo(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    char path[4096];
    uint32_t mode = 0600;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 1 || get_string(env, argv[0], path, sizeof(path)) != 0) {
        napi_throw_type_error(env, NULL, "mkfifo(path, mode) expects a path");
        return NULL;
    }
    if (argc > 1) {
        napi_get_value_uint32(env, argv[1], &mode);
    }
    if (mkfifo(path, (mode_t)mode) != 0) {
        return throw_errno(env, "mkfifo", errno);
    }
    return NULL;
}

/* mknod(path: string, mode: number, major: number, minor: number): void */
static napi_value make_node(napi_env env, napi_callback_info info)
{
    size_t argc = 4;
    napi_value argv[4];
    char path[4096];
    uint32_t mode = 0, major = 0, minor = 0;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 4 || get_string(env, argv[0], path, sizeof(path)) != 0 ||
        napi_get_value_uint32(env, argv[1], &mode) != napi_ok || napi_get_value_uint32(env, argv[2], &major) != napi_ok ||
        napi_get_value_uint32(env, argv[3], &minor) != napi_ok) {
        napi_throw_type_error(env, NULL, "mknod(path, mode, major, minor) expects a path and three numbers");
        return NULL;
    }
    if (mknod(path, (mode_t)mode, makedev(major, minor)) != 0) {
        return throw_errno(env, "mknod", errno);
    }
    return NULL;
}

/* lsetxattr(path: string, name: string, value: Buffer|string): void */
static napi_value set_xattr(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3];
    char path[4096];
    char name[256];
    char text[4096];
    void *data = NULL;
    size_t len = 0;
    bool is_buffer = false;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 3 || get_string(env, argv[0], path, sizeof(path)) != 0 || get_string(env, argv[1], name, sizeof(name)) != 0) {
        napi_throw_type_error(env, NULL, "lsetxattr(path, name, value) expects strings");
        return NULL;
    }
    napi_is_buffer(env, argv[2], &is_buffer);
    if (is_buffer) {
        napi_get_buffer_info(env, argv[2], &data, &len);
    } else {
        if (napi_get_value_string_utf8(env, argv[2], text, sizeof(text), &len) != napi_ok) {
            napi_throw_type_error(env, NULL, "lsetxattr value must be a Buffer or a string");
            return NULL;
        }
        data = text;
    }
    if (lsetxattr(path, name, data, len, 0) != 0) {
        return throw_errno(env, "lsetxattr", errno);
    }
    return NULL;
}

/* lgetxattr(path: string, name: string): Buffer | null  -- null when the attribute is not set */
static napi_value get_xattr(napi_env env, napi_callback_info info)
{
    size_t argc = 2;
    napi_value argv[2];
    char path[4096];
    char name[256];
    char value[65536];
    ssize_t len;
    napi_value result;
    void *data = NULL;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 2 || get_string(env, argv[0], path, sizeof(path)) != 0 || get_string(env, argv[1], name, sizeof(name)) != 0) {
        napi_throw_type_error(env, NULL, "lgetxattr(path, name) expects strings");
        return NULL;
    }
    len = lgetxattr(path, name, value, sizeof(value));
    if (len < 0) {
        if (errno == ENODATA) {
            napi_get_null(env, &result);
            return result;
        }
        return throw_errno(env, "lgetxattr", errno);
    }
    napi_create_buffer_copy(env, (size_t)len, value, &data, &result);
    return result;
}

/*
 * direntTypes(dir: string): boolean  -- true when readdir(3) reports d_type for every entry of `dir`
 * (Node's readdir withFileTypes silently lstat()s DT_UNKNOWN entries, so it cannot tell).
 */
static napi_value dirent_types(napi_env env, napi_callback_info info)
{
    size_t argc = 1;
    napi_value argv[1];
    char path[4096];
    DIR *dir;
    struct dirent *ent;
    bool ok = true;
    napi_value result;

    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 1 || get_string(env, argv[0], path, sizeof(path)) != 0) {
        napi_throw_type_error(env, NULL, "direntTypes(dir) expects a path");
        return NULL;
    }
    dir = opendir(path);
    if (dir == NULL) {
        return throw_errno(env, "opendir", errno);
    }
    while ((ent = readdir(dir)) != NULL) {
        if (ent->d_type == DT_UNKNOWN) {
            ok = false;
            break;
        }
    }
    closedir(dir);
    napi_get_boolean(env, ok, &result);
    return result;
}

/* One mount(2) or umount2(2) call, run on libuv's thread pool. */
struct mount_work {
    napi_async_work work;
    napi_ref callback;
    char *source, *target, *fstype, *data;
    unsigned long flags;
    int unmount;
    int err;
};

static char *dup_string(napi_env env, napi_value v)
{
    size_t len = 0;
    napi_valuetype t;
    if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
        return NULL;
    }
    napi_get_value_string_utf8(env, v, NULL, 0, &len);
    char *buf = malloc(len + 1);
    if (buf != NULL) {
        napi_get_value_string_utf8(env, v, buf, len + 1, &len);
    }
    return buf;
}

static void mount_execute(napi_env env, void *arg)
{
    (void)env;
    struct mount_work *w = arg;
    int r = w->unmount ? umount2(w->target, (int)w->flags) : mount(w->source, w->target, w->fstype, w->flags, w->data);
    w->err = r < 0 ? errno : 0;
}

static void mount_complete(napi_env env, napi_status status, void *arg)
{
    (void)status;
    struct mount_work *w = arg;
    napi_value cb, undefined, argv[1];
    napi_get_reference_value(env, w->callback, &cb);
    napi_get_undefined(env, &undefined);
    if (w->err != 0) {
        napi_value msg, code;
        char text[512];
        const char *name = strerrorname_np(w->err);
        snprintf(text, sizeof(text), "%s %s: %s", w->unmount ? "umount" : "mount", w->target, strerror(w->err));
        napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
        napi_create_string_utf8(env, name != NULL ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
        napi_create_error(env, code, msg, &argv[0]);
    } else {
        napi_get_null(env, &argv[0]);
    }
    napi_call_function(env, undefined, cb, 1, argv, NULL);
    napi_delete_reference(env, w->callback);
    napi_delete_async_work(env, w->work);
    free(w->source);
    free(w->target);
    free(w->fstype);
    free(w->data);
    free(w);
}

static napi_value queue_mount(napi_env env, struct mount_work *w, napi_value cb)
{
    napi_value name;
    napi_create_reference(env, cb, 1, &w->callback);
    napi_create_string_utf8(env, w->unmount ? "umount" : "mount", NAPI_AUTO_LENGTH, &name);
    napi_create_async_work(env, NULL, name, mount_execute, mount_complete, w, &w->work);
    napi_queue_async_work(env, w->work);
    return NULL;
}

static napi_value do_mount(napi_env env, napi_callback_info info)
{
    size_t argc = 6;
    napi_value argv[6];
    double flags = 0;
    napi_valuetype cbt;
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 6 || napi_get_value_double(env, argv[3], &flags) != napi_ok || napi_typeof(env, argv[5], &cbt) != napi_ok || cbt != napi_function) {
        napi_throw_type_error(env, NULL, "mount(source, target, fstype, flags, data, callback)");
        return NULL;
    }
    struct mount_work *w = calloc(1, sizeof(*w));
    w->source = dup_string(env, argv[0]);
    w->target = dup_string(env, argv[1]);
    w->fstype = dup_string(env, argv[2]);
    w->data = dup_string(env, argv[4]);
    w->flags = (unsigned long)flags;
    if (w->source == NULL || w->target == NULL || w->fstype == NULL || w->data == NULL) {
        free(w->source); free(w->target); free(w->fstype); free(w->data); free(w);
        napi_throw_type_error(env, NULL, "mount: source, target, fstype and data must be strings");
        return NULL;
    }
    return queue_mount(env, w, argv[5]);
}

static napi_value do_umount(napi_env env, napi_callback_info info)
{
    size_t argc = 3;
    napi_value argv[3];
    double flags = 0;
    napi_valuetype cbt;
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    if (argc < 3 || napi_get_value_double(env, argv[1], &flags) != napi_ok || napi_typeof(env, argv[2], &cbt) != napi_ok || cbt != napi_function) {
        napi_throw_type_error(env, NULL, "umount(target, flags, callback)");
        return NULL;
    }
    struct mount_work *w = calloc(1, sizeof(*w));
    w->target = dup_string(env, argv[0]);
    w->flags = (unsigned long)flags;
    w->unmount = 1;
    if (w->target == NULL) {
        free(w);
        napi_throw_type_error(env, NULL, "umount: target must be a string");
        return NULL;
    }
    return queue_mount(env, w, argv[2]);
}

static napi_value init(napi_env env, napi_value exports)
{
    napi_property_descriptor props[] = {
        { "lockFile", NULL, lock_file, NULL, NULL, NULL, napi_enumerable, NULL },
        { "notify", NULL, notify, NULL, NULL, NULL, napi_enumerable, NULL },
        { "mkfifo", NULL, make_fifo, NULL, NULL, NULL, napi_enumerable, NULL },
        { "mknod", NULL, make_node, NULL, NULL, NULL, napi_enumerable, NULL },
        { "lsetxattr", NULL, set_xattr, NULL, NULL, NULL, napi_enumerable, NULL },
        { "lgetxattr", NULL, get_xattr, NULL, NULL, NULL, napi_enumerable, NULL },
        { "direntTypes", NULL, dirent_types, NULL, NULL, NULL, napi_enumerable, NULL },
        { "mount", NULL, do_mount, NULL, NULL, NULL, napi_enumerable, NULL },
        { "umount", NULL, do_umount, NULL, NULL, NULL, napi_enumerable, NULL },
    };
    napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
    return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
