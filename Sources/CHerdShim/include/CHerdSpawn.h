#ifndef CHERDSPAWN_H
#define CHERDSPAWN_H

#include <stddef.h>

/// Runs `path` with `argv` (NULL-terminated; the caller's environment), stdin from /dev/null, and waits for it,
/// keeping at most `outlen - 1` bytes of its stdout in `out` and `errlen - 1` of its stderr in `err` (both
/// NUL-terminated; the rest is read and dropped, so the child never blocks on a full pipe). `*status` is the
/// exit code, or 128 + the signal that ended it. Returns 0, or a negative errno when it could not be started.
/// Blocks until the child exits: call it from a dedicated thread. posix_spawn (vfork-like) instead of
/// Foundation's Process: no run loop, no extra threads, no copy of the agent's address space.
int herd_spawn_wait(const char *path, char *const argv[], int *status, char *out, size_t outlen, char *err,
                    size_t errlen);

#endif
