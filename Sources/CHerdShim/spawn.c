// A small process runner for the agent (see CHerdSpawn.h): the container monitor is started once per container,
// and Foundation's Process costs two threads, pipes handled by FileHandle and a run loop per start.

#define _GNU_SOURCE
#include "CHerdSpawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void keep(char *buf, size_t cap, size_t *used, const char *data, size_t n) {
    if (!buf || cap == 0) return;
    size_t room = cap - 1 - *used;
    if (n > room) n = room;
    memcpy(buf + *used, data, n);
    *used += n;
    buf[*used] = 0;
}

int herd_spawn_wait(const char *path, char *const argv[], int *status, char *out, size_t outlen, char *err,
                    size_t errlen) {
    if (out && outlen) out[0] = 0;
    if (err && errlen) err[0] = 0;
    int op[2], ep[2];
    if (pipe2(op, O_CLOEXEC) < 0) return -errno;
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int e = errno;
        close(op[0]);
        close(op[1]);
        return -e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, op[1], 1);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // nothing else of the agent's leaks into a monitor
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    // the child starts with default signal handling and an empty mask, whatever the agent's threads block
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(op[1]);
    close(ep[1]);
    if (rc != 0) {
        close(op[0]);
        close(ep[0]);
        return -rc;
    }
    size_t out_used = 0, err_used = 0;
    struct pollfd fds[2] = {{.fd = op[0], .events = POLLIN}, {.fd = ep[0], .events = POLLIN}};
    int open_count = 2;
    char chunk[4096];
    while (open_count > 0) {
        int n = poll(fds, 2, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = read(fds[i].fd, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_count--;
                continue;
            }
            if (i == 0) keep(out, outlen, &out_used, chunk, (size_t)r);
            else keep(err, errlen, &err_used, chunk, (size_t)r);
        }
    }
    for (int i = 0; i < 2; i++)
        if (fds[i].fd >= 0) close(fds[i].fd);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    if (status) *status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
    return 0;
}
