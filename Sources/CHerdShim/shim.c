// The container monitor of the Linux runtime (a conmon-like shim). It runs as the small `herd-shim`
// executable (C only: it starts in a millisecond, where loading the Swift `herd` binary takes 30 ms per
// container start), or built into the `herd` binary as `herd __herd-shim ...` when herd-shim is not installed.
//
// In `herd`, a constructor runs before Swift's main. When argv[1] is "__herd-shim" it handles the whole
// process in C and exits; otherwise it returns and Swift starts normally. Namespace work has to happen here because
// unshare(CLONE_NEWNS) and setns(mnt) fail in a multithreaded process, and Swift starts threads early
// (the same reason runc does its namespace work in nsexec's constructor).
//
//   herd __herd-shim run  --state DIR --log FILE [--log-max BYTES] [--cgroup DIR]... [--oom-file FILE]
//                         [--netns PATH] [--hostname NAME] [--bind SRC DST ro|rw]... [--uid N] [--gid N]
//                         [--groups 1,2] [--cwd DIR] [--env-file FILE] [--tty] [--stdin-fifo FILE] -- argv...
//   herd __herd-shim exec --pid PID [--cgroup DIR]... [--uid N] [--gid N] [--groups 1,2] [--cwd DIR]
//                         [--env-file FILE] [--tty] -- argv...
//
// run: daemonizes a monitor (it outlives the agent), which starts the container as PID 1 of a new PID
// namespace in the pod's network namespace with its own mount/UTS/IPC namespaces, copies its output to FILE
// in the CRI log format, and records the container in DIR: `monitor.pid`, `pid` (key=value: pid,
// start_ticks, started_at), `exit` (exit_code, signal, oom_killed, finished_at, reason, message). The
// launcher exits once the container runs (0) or could not start (3 cannot run, 4 setup failed; the message
// on stderr).
// exec: joins the namespaces and cgroup of a running container, runs argv with the inherited stdio, and
// exits with its exit code (127: not found, 126: not executable).
// The env file holds NUL-terminated KEY=VALUE entries.

#define _GNU_SOURCE
#include "CHerdShim.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

int herd_shim_linked(void) { return 1; }

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define LOG_LINE_MAX 16384

struct bind_mount {
    const char *source;
    const char *target;
    int read_only;
};

struct shim_options {
    const char *state_dir;
    const char *log_path;
    long long log_max;
    const char **cgroups;
    int cgroup_count;
    const char *oom_file;
    const char *netns;
    const char *hostname;
    struct bind_mount *binds;
    int bind_count;
    int has_uid, has_gid;
    uid_t uid;
    gid_t gid;
    gid_t *groups;
    int group_count;
    int has_groups;
    const char *cwd;
    const char *env_file;
    int tty;
    const char *stdin_fifo;
    int stdin_once;
    pid_t pid;
    char **argv;
    char **envp;
};

// ---------------------------------------------------------------------------------------------------------
// Small helpers (everything here runs in a single-threaded process; stdio is fine, but we keep to syscalls
// for what the container child does between fork and exec).

static void die(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "herd shim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    _exit(code);
}

static int write_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static long long now_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Writes DIR/NAME atomically (temp file + rename), so a reader never sees half a file. No fsync: the state
// directory is the runtime's tmpfs (or, where it stays on disk, records that only need to outlive the agent).
static int write_state_file(const char *dir, const char *name, const char *content) {
    char path[PATH_MAX], tmp[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s/.%s.tmp", dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    if (write_all(fd, content, strlen(content)) < 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return rename(tmp, path);
}

static int write_file(const char *path, const char *content) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int r = write_all(fd, content, strlen(content));
    int saved = errno;
    close(fd);
    errno = saved;
    return r;
}

// The start time of a process in clock ticks since boot (field 22 of /proc/PID/stat): with the pid, it
// identifies the process across pid reuse.
static unsigned long long process_start_ticks(pid_t pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p) return 0;
    p += 2;  // state field
    for (int field = 3; field < 22 && p; field++) {
        p = strchr(p, ' ');
        if (p) p++;
    }
    return p ? strtoull(p, NULL, 10) : 0;
}

// The `oom_kill N` counter of a cgroup v1 memory.oom_control or v2 memory.events file (-1 if unreadable).
static long long read_oom_kills(const char *path) {
    if (!path) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    for (char *line = buf; line && *line;) {
        if (strncmp(line, "oom_kill ", 9) == 0) return atoll(line + 9);
        line = strchr(line, '\n');
        if (line) line++;
    }
    return -1;
}

static char **read_env_file(const char *path) {
    char *data = NULL;
    size_t len = 0;
    if (path) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) die(HERD_SHIM_SETUP_FAILED, "open %s: %s", path, strerror(errno));
        size_t cap = 4096;
        data = malloc(cap + 1);
        for (;;) {
            if (len == cap) {
                cap *= 2;
                data = realloc(data, cap + 1);
            }
            ssize_t n = read(fd, data + len, cap - len);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            len += (size_t)n;
        }
        close(fd);
        data[len] = 0;
    }
    size_t count = 0;
    for (size_t i = 0; i < len; i += strlen(data + i) + 1) count++;
    char **env = calloc(count + 2, sizeof(char *));
    size_t k = 0;
    int has_path = 0;
    for (size_t i = 0; i < len; i += strlen(data + i) + 1) {
        if (data[i] == 0) continue;
        if (strncmp(data + i, "PATH=", 5) == 0) has_path = 1;
        env[k++] = data + i;
    }
    if (!has_path) env[k++] = DEFAULT_PATH;
    env[k] = NULL;
    return env;
}

static const char *env_lookup(char **env, const char *name) {
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
    return NULL;
}

static void parse_groups(struct shim_options *o, const char *list) {
    o->has_groups = 1;
    o->group_count = 0;
    o->groups = calloc(strlen(list) + 1, sizeof(gid_t));
    for (const char *p = list; *p;) {
        char *end;
        long g = strtol(p, &end, 10);
        if (end == p) break;
        o->groups[o->group_count++] = (gid_t)g;
        p = *end == ',' ? end + 1 : end;
    }
}

static void parse_options(struct shim_options *o, int argc, char **argv, int start) {
    memset(o, 0, sizeof *o);
    o->log_max = 10LL * 1024 * 1024;
    o->cgroups = calloc((size_t)argc, sizeof(char *));
    o->binds = calloc((size_t)argc, sizeof(struct bind_mount));
    int i = start;
#define NEED(k) do { if (i + (k) >= argc) die(HERD_SHIM_FAILED, "%s needs %d value(s)", argv[i], (k)); } while (0)
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) {
            i++;
            break;
        } else if (strcmp(a, "--state") == 0) { NEED(1); o->state_dir = argv[++i]; }
        else if (strcmp(a, "--log") == 0) { NEED(1); o->log_path = argv[++i]; }
        else if (strcmp(a, "--log-max") == 0) { NEED(1); o->log_max = atoll(argv[++i]); }
        else if (strcmp(a, "--cgroup") == 0) { NEED(1); o->cgroups[o->cgroup_count++] = argv[++i]; }
        else if (strcmp(a, "--oom-file") == 0) { NEED(1); o->oom_file = argv[++i]; }
        else if (strcmp(a, "--netns") == 0) { NEED(1); o->netns = argv[++i]; }
        else if (strcmp(a, "--hostname") == 0) { NEED(1); o->hostname = argv[++i]; }
        else if (strcmp(a, "--bind") == 0) {
            NEED(3);
            struct bind_mount *b = &o->binds[o->bind_count++];
            b->source = argv[++i];
            b->target = argv[++i];
            b->read_only = strcmp(argv[++i], "ro") == 0;
        }
        else if (strcmp(a, "--uid") == 0) { NEED(1); o->has_uid = 1; o->uid = (uid_t)atol(argv[++i]); }
        else if (strcmp(a, "--gid") == 0) { NEED(1); o->has_gid = 1; o->gid = (gid_t)atol(argv[++i]); }
        else if (strcmp(a, "--groups") == 0) { NEED(1); parse_groups(o, argv[++i]); }
        else if (strcmp(a, "--cwd") == 0) { NEED(1); o->cwd = argv[++i]; }
        else if (strcmp(a, "--env-file") == 0) { NEED(1); o->env_file = argv[++i]; }
        else if (strcmp(a, "--tty") == 0) { o->tty = 1; }
        else if (strcmp(a, "--stdin-fifo") == 0) { NEED(1); o->stdin_fifo = argv[++i]; }
        else if (strcmp(a, "--stdin-once") == 0) { o->stdin_once = 1; }
        else if (strcmp(a, "--pid") == 0) { NEED(1); o->pid = (pid_t)atol(argv[++i]); }
        else die(HERD_SHIM_FAILED, "unknown flag %s", a);
    }
#undef NEED
    if (i >= argc) die(HERD_SHIM_FAILED, "no command after --");
    o->argv = argv + i;
    o->envp = read_env_file(o->env_file);
}

static void reset_signals(void) {
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
    for (int s = 1; s < NSIG; s++) {
        if (s == SIGKILL || s == SIGSTOP) continue;
        signal(s, SIG_DFL);
    }
}

static void close_fds_from(int first) {
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
    for (int fd = first; fd < 65536; fd++) close(fd);
}

// ---------------------------------------------------------------------------------------------------------
// What the container child does between fork and exec. Failures go to the monitor through `report`
// (CLOEXEC, so a successful exec closes it): one kind byte ('N' cannot run, 'F' setup failed) and a message.

static void report_and_exit(int report, char kind, int code, const char *fmt, ...) {
    char msg[2048];
    msg[0] = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + 1, sizeof msg - 1, fmt, ap);
    va_end(ap);
    if (report >= 0) write_all(report, msg, strlen(msg));
    else {
        write_all(2, msg + 1, strlen(msg + 1));
        write_all(2, "\n", 1);
    }
    _exit(code);
}

static void join_cgroups(const struct shim_options *o, int report) {
    for (int i = 0; i < o->cgroup_count; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/cgroup.procs", o->cgroups[i]);
        // "0" is the writing process itself (getpid() would be 1 inside a new PID namespace).
        if (write_file(path, "0") < 0)
            report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "join cgroup %s: %s", o->cgroups[i], strerror(errno));
    }
}

static void make_parents(char *path) {
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        mkdir(path, 0755);
        *p = '/';
    }
}

static void bind_mount(const struct bind_mount *b, int report) {
    struct stat st;
    if (stat(b->source, &st) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "mount %s: %s", b->source, strerror(errno));
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s", b->target);
    struct stat tst;
    if (stat(target, &tst) < 0) {
        make_parents(target);
        if (S_ISDIR(st.st_mode)) mkdir(target, 0755);
        else {
            int fd = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
            if (fd >= 0) close(fd);
        }
    }
    if (mount(b->source, target, NULL, MS_BIND | MS_REC, NULL) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "bind %s on %s: %s", b->source, target, strerror(errno));
    if (b->read_only && mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "read-only remount of %s: %s", target, strerror(errno));
}

// The primary group of `uid` in /etc/passwd (the host's until images land), read directly as runc does: no
// NSS, so herd-shim can be a static executable.
static int passwd_gid(uid_t uid, gid_t *gid) {
    FILE *f = fopen("/etc/passwd", "re");
    if (!f) return -1;
    char line[4096];
    int found = -1;
    while (found < 0 && fgets(line, sizeof line, f)) {
        // name:password:uid:gid:gecos:home:shell
        char *field[4];
        char *p = line;
        int n = 0;
        while (n < 4) {
            field[n++] = p;
            p = strchr(p, ':');
            if (!p) break;
            *p++ = '\0';
        }
        if (n < 4 || !p || !field[2][0] || !field[3][0]) continue;
        char *end;
        unsigned long u = strtoul(field[2], &end, 10);
        if (*end || u != (unsigned long)uid) continue;
        unsigned long g = strtoul(field[3], &end, 10);
        if (*end) continue;
        *gid = (gid_t)g;
        found = 0;
    }
    fclose(f);
    return found;
}

static void set_credentials(const struct shim_options *o, int report) {
    if (!o->has_uid && !o->has_gid && !o->has_groups) return;
    gid_t gid = 0;
    if (o->has_gid) gid = o->gid;
    else if (o->has_uid) passwd_gid(o->uid, &gid);
    if (setgroups((size_t)o->group_count, o->groups) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "setgroups: %s", strerror(errno));
    if (setgid(gid) < 0) report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "setgid %d: %s", (int)gid, strerror(errno));
    if (o->has_uid && setuid(o->uid) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "setuid %d: %s", (int)o->uid, strerror(errno));
}

// strerror in Go's wording (lowercase), as upstream messages print it: "permission denied".
static const char *go_error(int e) {
    static char buf[256];
    snprintf(buf, sizeof buf, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z') buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

// execvpe with the container's PATH; on failure reports the upstream wording and exits 127/126.
static void exec_command(const struct shim_options *o, int report) {
    const char *file = o->argv[0];
    if (strchr(file, '/')) {
        execve(file, o->argv, o->envp);
        int e = errno;
        if (e == ENOENT)
            report_and_exit(report, 'N', 127, "exec: \"%s\": stat %s: no such file or directory", file, file);
        report_and_exit(report, 'N', e == EACCES ? 126 : 127, "exec: \"%s\": %s", file, go_error(e));
    }
    const char *path = env_lookup(o->envp, "PATH");
    if (!path) path = &DEFAULT_PATH[5];
    int saw_eacces = 0;
    char candidate[PATH_MAX];
    for (const char *p = path;;) {
        const char *end = strchrnul(p, ':');
        size_t dirlen = (size_t)(end - p);
        if (dirlen == 0) snprintf(candidate, sizeof candidate, "%s", file);
        else snprintf(candidate, sizeof candidate, "%.*s/%s", (int)dirlen, p, file);
        struct stat st;
        if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode)) {
            execve(candidate, o->argv, o->envp);
            if (errno == EACCES) saw_eacces = 1;
            else if (errno != ENOENT)
                report_and_exit(report, 'N', 126, "exec: \"%s\": %s", candidate, go_error(errno));
        }
        if (!*end) break;
        p = end + 1;
    }
    if (saw_eacces) report_and_exit(report, 'N', 126, "exec: \"%s\": permission denied", file);
    report_and_exit(report, 'N', 127, "exec: \"%s\": executable file not found in $PATH", file);
}

// PID 1 of the container's PID namespace (already in its cgroup and namespaces; stdio set up).
static void container_main(const struct shim_options *o, int report) {
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "make / private: %s", strerror(errno));
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "mount /proc: %s", strerror(errno));
    if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "sethostname: %s", strerror(errno));
    for (int i = 0; i < o->bind_count; i++) bind_mount(&o->binds[i], report);
    set_credentials(o, report);
    const char *cwd = o->cwd ? o->cwd : "/";
    if (chdir(cwd) < 0)
        report_and_exit(report, 'F', HERD_SHIM_SETUP_FAILED, "chdir to cwd (\"%s\") set in config.json failed: %s", cwd, strerror(errno));
    exec_command(o, report);
}

// ---------------------------------------------------------------------------------------------------------
// CRI log writer: `<RFC3339Nano> <stream> <F|P> <text>` per line, P for 16 KiB pieces of a longer line.

struct log_writer {
    int fd;
    const char *path;
    long long size;
    long long max;
};

struct stream_buffer {
    const char *name;
    char data[LOG_LINE_MAX];
    size_t len;
};

static void log_open(struct log_writer *w) {
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    struct stat st;
    w->size = (w->fd >= 0 && fstat(w->fd, &st) == 0) ? st.st_size : 0;
}

static void log_line(struct log_writer *w, const char *stream, char tag, const char *text, size_t len) {
    if (w->fd < 0) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char head[96];
    size_t h = strftime(head, sizeof head, "%Y-%m-%dT%H:%M:%S", &tm);
    h += (size_t)snprintf(head + h, sizeof head - h, ".%09ldZ %s %c ", ts.tv_nsec, stream, tag);
    char *line = malloc(h + len + 1);
    memcpy(line, head, h);
    memcpy(line + h, text, len);
    line[h + len] = '\n';
    write_all(w->fd, line, h + len + 1);
    free(line);
    w->size += (long long)(h + len + 1);
    if (w->max > 0 && w->size >= w->max) {
        char rotated[PATH_MAX];
        snprintf(rotated, sizeof rotated, "%s.1", w->path);
        close(w->fd);
        rename(w->path, rotated);
        log_open(w);
    }
}

static void log_feed(struct log_writer *w, struct stream_buffer *b, const char *data, size_t n) {
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t chunk = nl ? (size_t)(nl - data) : n;
        size_t room = LOG_LINE_MAX - b->len;
        if (chunk > room) chunk = room;
        memcpy(b->data + b->len, data, chunk);
        b->len += chunk;
        data += chunk;
        n -= chunk;
        if (nl && data == nl) {
            log_line(w, b->name, 'F', b->data, b->len);
            b->len = 0;
            data++;
            n--;
        } else if (b->len == LOG_LINE_MAX) {
            log_line(w, b->name, 'P', b->data, b->len);
            b->len = 0;
        }
    }
}

static void log_flush(struct log_writer *w, struct stream_buffer *b) {
    if (b->len > 0) log_line(w, b->name, 'F', b->data, b->len);
    b->len = 0;
}

// ---------------------------------------------------------------------------------------------------------
// run mode

static void monitor(struct shim_options *o, int sync_fd) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%d\n", (int)getpid());
    write_state_file(o->state_dir, "monitor.pid", buf);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    struct log_writer log = {.fd = -1, .path = o->log_path, .max = o->log_max};
    if (o->log_path) log_open(&log);
    long long oom_before = read_oom_kills(o->oom_file);

    int out[2] = {-1, -1}, err[2] = {-1, -1}, report[2];
    int pty_master = -1, pty_slave = -1;
    if (o->tty) {
        pty_master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (pty_master < 0 || grantpt(pty_master) < 0 || unlockpt(pty_master) < 0) {
            dprintf(sync_fd, "Fopen a terminal: %s", strerror(errno));
            _exit(HERD_SHIM_FAILED);
        }
        pty_slave = open(ptsname(pty_master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    } else if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
        dprintf(sync_fd, "Fpipe: %s", strerror(errno));
        _exit(HERD_SHIM_FAILED);
    }
    // With stdin, attach sessions write into a FIFO and the monitor relays it to the container (a pipe, or
    // the terminal): the container's stdin stays open between sessions, or closes after the first one ends
    // with stdinOnce.
    int fifo_fd = -1, in[2] = {-1, -1}, stdin_sink = -1;
    if (o->stdin_fifo) {
        fifo_fd = open(o->stdin_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (!o->tty && pipe2(in, O_CLOEXEC) < 0) {
            dprintf(sync_fd, "Fpipe: %s", strerror(errno));
            _exit(HERD_SHIM_FAILED);
        }
    }
    if (pipe2(report, O_CLOEXEC) < 0) _exit(HERD_SHIM_FAILED);
    // The monitor is the container's parent; a subreaper also collects whatever the container orphans.
    prctl(PR_SET_CHILD_SUBREAPER, 1);

    int netns_fd = -1;
    if (o->netns) {
        netns_fd = open(o->netns, O_RDONLY | O_CLOEXEC);
        if (netns_fd < 0) {
            dprintf(sync_fd, "Fopen network namespace %s: %s", o->netns, strerror(errno));
            _exit(HERD_SHIM_FAILED);
        }
    }
    // The next child is PID 1 of a new PID namespace; the monitor stays in the node's.
    if (unshare(CLONE_NEWPID) < 0) {
        dprintf(sync_fd, "Funshare PID namespace: %s", strerror(errno));
        _exit(HERD_SHIM_FAILED);
    }
    pid_t child = fork();
    if (child < 0) {
        dprintf(sync_fd, "Ffork: %s", strerror(errno));
        _exit(HERD_SHIM_FAILED);
    }
    if (child == 0) {
        close(report[0]);
        close(sync_fd);
        reset_signals();
        setsid();
        if (o->tty) {
            dup2(pty_slave, 0);
            dup2(pty_slave, 1);
            dup2(pty_slave, 2);
            ioctl(0, TIOCSCTTY, 0);
        } else {
            int null = open("/dev/null", O_RDWR | O_CLOEXEC);
            dup2(in[0] >= 0 ? in[0] : null, 0);
            dup2(out[1], 1);
            dup2(err[1], 2);
        }
        join_cgroups(o, report[1]);
        if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
            report_and_exit(report[1], 'F', HERD_SHIM_SETUP_FAILED, "join network namespace: %s", strerror(errno));
        int flags = CLONE_NEWNS | CLONE_NEWIPC | (o->hostname ? CLONE_NEWUTS : 0);
        if (unshare(flags) < 0)
            report_and_exit(report[1], 'F', HERD_SHIM_SETUP_FAILED, "unshare namespaces: %s", strerror(errno));
        container_main(o, report[1]);
        _exit(127);
    }
    close(report[1]);
    if (in[0] >= 0) close(in[0]);
    if (fifo_fd >= 0) {
        stdin_sink = o->tty ? pty_master : in[1];
        if (!o->tty) fcntl(stdin_sink, F_SETFL, fcntl(stdin_sink, F_GETFL) | O_NONBLOCK);
    }
    if (pty_slave >= 0) close(pty_slave);
    if (out[1] >= 0) close(out[1]);
    if (err[1] >= 0) close(err[1]);
    if (netns_fd >= 0) close(netns_fd);

    // Wait for exec (EOF on the CLOEXEC report pipe) or a failure message.
    char msg[2048];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(report[0], msg + got, sizeof msg - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof msg - 1) break;
    }
    msg[got] = 0;
    close(report[0]);
    long long started_at = now_nanos();
    if (got > 0) {
        int status = 0;
        waitpid(child, &status, 0);
        const char *reason = msg[0] == 'N' ? "ContainerCannotRun" : "StartError";
        for (char *p = msg; *p; p++)
            if (*p == '\n') *p = ' ';
        snprintf(buf, sizeof buf, "exit_code=128\nsignal=0\noom_killed=0\nfinished_at=%lld\nreason=%s\nmessage=%s\n",
                 now_nanos(), reason, msg + 1);
        write_state_file(o->state_dir, "exit", buf);
        if (o->log_path) log_line(&log, "stderr", 'F', msg + 1, strlen(msg + 1));
        write_all(sync_fd, msg, strlen(msg));
        close(sync_fd);
        _exit(0);
    }
    snprintf(buf, sizeof buf, "pid=%d\nstart_ticks=%llu\nstarted_at=%lld\n", (int)child, process_start_ticks(child), started_at);
    write_state_file(o->state_dir, "pid", buf);
    write_all(sync_fd, "O", 1);
    close(sync_fd);

    struct stream_buffer outb = {.name = "stdout"}, errb = {.name = "stderr"};
    int fds[2] = {o->tty ? pty_master : out[0], o->tty ? -1 : err[0]};
    struct stream_buffer *bufs[2] = {&outb, &errb};
    int status = 0, exited = 0;
    for (;;) {
        struct pollfd p[3];
        int np = 0, map[3];
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0) {
                p[np].fd = fds[i];
                p[np].events = POLLIN;
                map[np++] = i;
            }
        if (np == 0) break;
        if (fifo_fd >= 0 && !exited) {
            p[np].fd = fifo_fd;
            p[np].events = POLLIN;
            map[np++] = 2;
        }
        // After the container exits, whatever it left in the pipes is drained without waiting further.
        int r = poll(p, (nfds_t)np, exited ? 0 : 500);
        if (r < 0 && errno != EINTR) break;
        if (r == 0 && exited) break;
        for (int k = 0; k < np && r > 0; k++) {
            if (map[k] == 2) {
                if (p[k].revents & POLLIN) {
                    char data[65536];
                    ssize_t n = read(fifo_fd, data, sizeof data);
                    // A container that does not read its stdin loses input rather than stalling its logs.
                    if (n > 0) write_all(stdin_sink, data, (size_t)n);
                } else if (p[k].revents & (POLLHUP | POLLERR)) {
                    // The attach session's writer went away.
                    close(fifo_fd);
                    fifo_fd = -1;
                    if (o->stdin_once) {
                        if (o->tty) write_all(stdin_sink, "\x04", 1);
                        else close(stdin_sink);
                        stdin_sink = -1;
                    } else {
                        fifo_fd = open(o->stdin_fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                    }
                }
                continue;
            }
            if (!(p[k].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            char data[65536];
            ssize_t n = read(p[k].fd, data, sizeof data);
            if (n > 0) log_feed(&log, bufs[map[k]], data, (size_t)n);
            else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
                close(fds[map[k]]);
                fds[map[k]] = -1;
            }
        }
        if (!exited) {
            pid_t w = waitpid(child, &status, WNOHANG);
            if (w == child) exited = 1;
        }
    }
    if (!exited) waitpid(child, &status, 0);
    log_flush(&log, &outb);
    log_flush(&log, &errb);
    while (waitpid(-1, NULL, WNOHANG) > 0) {}

    int code = 0, sig = 0;
    if (WIFEXITED(status)) code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) {
        sig = WTERMSIG(status);
        code = 128 + sig;
    }
    long long oom_after = read_oom_kills(o->oom_file);
    int oom = oom_before >= 0 && oom_after > oom_before;
    snprintf(buf, sizeof buf, "exit_code=%d\nsignal=%d\noom_killed=%d\nfinished_at=%lld\n", code, sig, oom, now_nanos());
    write_state_file(o->state_dir, "exit", buf);
    _exit(0);
}

static void run_mode(struct shim_options *o) {
    if (!o->state_dir) die(HERD_SHIM_FAILED, "run needs --state");
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0) die(HERD_SHIM_FAILED, "pipe: %s", strerror(errno));
    pid_t first = fork();
    if (first < 0) die(HERD_SHIM_FAILED, "fork: %s", strerror(errno));
    if (first == 0) {
        // Daemonize: a new session, reparented away from the agent, so killing the agent (even its process
        // group) leaves the monitor and the container alone.
        close(sync[0]);
        setsid();
        pid_t second = fork();
        if (second != 0) _exit(second < 0 ? 1 : 0);
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (null > 2) close(null);
        if (chdir("/") < 0) {}
        monitor(o, sync[1]);
        _exit(0);
    }
    close(sync[1]);
    char msg[2048];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(sync[0], msg + got, sizeof msg - 1 - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
        if (got == sizeof msg - 1) break;
    }
    msg[got] = 0;
    waitpid(first, NULL, 0);
    if (got > 0 && msg[0] == 'O') _exit(HERD_SHIM_STARTED);
    if (got == 0) die(HERD_SHIM_FAILED, "the monitor exited before the container started");
    fprintf(stderr, "%s\n", msg + 1);
    fflush(stderr);
    _exit(msg[0] == 'N' ? HERD_SHIM_CANNOT_RUN : HERD_SHIM_SETUP_FAILED);
}

// ---------------------------------------------------------------------------------------------------------
// exec mode

static pid_t exec_child = 0;

static void forward_signal(int sig) {
    if (exec_child > 0) kill(exec_child, sig);
}

static void exec_mode(struct shim_options *o) {
    if (o->pid <= 0) die(HERD_SHIM_FAILED, "exec needs --pid");
    // Open every namespace first: after joining the mount namespace, /proc is the container's.
    static const char *kinds[] = {"ipc", "uts", "net", "pid", "mnt"};
    static const int types[] = {CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWNS};
    int nsfd[5];
    for (int i = 0; i < 5; i++) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)o->pid, kinds[i]);
        nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
        if (nsfd[i] < 0) die(126, "container process %d: %s", (int)o->pid, strerror(errno));
    }
    join_cgroups(o, -1);
    for (int i = 0; i < 5; i++) {
        if (setns(nsfd[i], types[i]) < 0) die(126, "join %s namespace: %s", kinds[i], strerror(errno));
        close(nsfd[i]);
    }
    pid_t child = fork();
    if (child < 0) die(126, "fork: %s", strerror(errno));
    if (child == 0) {
        reset_signals();
        if (o->tty) {
            setsid();
            ioctl(0, TIOCSCTTY, 0);
        }
        set_credentials(o, -1);
        // After the credential change (which clears it): the command dies with the shim, so an exec session
        // that is cancelled (the shim killed) leaves nothing behind.
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        const char *cwd = o->cwd ? o->cwd : "/";
        if (chdir(cwd) < 0) die(126, "chdir %s: %s", cwd, strerror(errno));
        exec_command(o, -1);
        _exit(127);
    }
    exec_child = child;
    signal(SIGTERM, forward_signal);
    signal(SIGINT, forward_signal);
    signal(SIGHUP, forward_signal);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
    _exit(1);
}

// `herd agent --netns NAME`: the whole agent joins the named network namespace. setns(CLONE_NEWNET) moves
// only the calling thread, so it has to happen here, before Swift starts any thread; every thread and child
// (ip, nft, the container monitors) then inherits it. No mount namespace is made (unlike `ip netns exec`):
// nothing in the agent reads /sys/class/net (iproute2, nft and getifaddrs use netlink, /proc/sys/net follows
// the caller's netns), and pod namespaces the agent adds under /var/run/netns must stay visible on the host
// for `herd cluster down`.
static void enter_agent_netns(int argc, char **argv) {
    const char *name = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--netns") == 0) {
            if (i + 1 >= argc) return;  // argument parsing reports the missing value
            name = argv[++i];
        } else if (strncmp(argv[i], "--netns=", 8) == 0) {
            name = argv[i] + 8;
        }
    }
    if (!name) return;
    if (name[0] == '\0' || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        fprintf(stderr, "error: --netns %s: not a network namespace name (see ip netns list)\n", name);
        exit(1);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "/var/run/netns/%s", name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) fprintf(stderr, "error: --netns %s: no network namespace %s (create it with ip netns add %s)\n", name, path, name);
        else fprintf(stderr, "error: --netns %s: open %s: %s\n", name, path, strerror(errno));
        exit(1);
    }
    if (setns(fd, CLONE_NEWNET) < 0) {
        int e = errno;
        fprintf(stderr, "error: --netns %s: cannot enter %s: %s%s\n", name, path, strerror(e),
                e == EPERM ? " (herd agent --netns needs root)" : "");
        exit(1);
    }
    close(fd);
}

__attribute__((constructor)) static void herd_shim_entry(int argc, char **argv, char **envp) {
    (void)envp;
    if (argc >= 2 && argv && strcmp(argv[1], "agent") == 0) {
        enter_agent_netns(argc, argv);
        return;
    }
    if (argc < 3 || !argv || strcmp(argv[1], HERD_SHIM_ARGUMENT) != 0) return;
    exit(herd_shim_main(argc - 1, argv + 1));
}

int herd_shim_main(int argc, char **argv) {
    if (argc < 2) die(HERD_SHIM_FAILED, "usage: herd-shim run|exec [flags] -- argv...");
    // Descriptors the caller leaked into us must not reach a long-lived monitor or a container.
    close_fds_from(3);
    struct shim_options o;
    parse_options(&o, argc, argv, 2);
    if (strcmp(argv[1], "run") == 0) run_mode(&o);
    else if (strcmp(argv[1], "exec") == 0) exec_mode(&o);
    die(HERD_SHIM_FAILED, "unknown shim mode %s", argv[1]);
    return HERD_SHIM_FAILED;
}
