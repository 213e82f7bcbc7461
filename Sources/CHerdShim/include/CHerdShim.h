#ifndef CHERDSHIM_H
#define CHERDSHIM_H

// Pod network set-up over rtnetlink (netlink.c), for the agent.
#include "CHerdNetlink.h"
// Running a helper program without Foundation's Process (spawn.c), for the agent.
#include "CHerdSpawn.h"

/// Nonzero when the shim was linked in; the executable calls it so the linker keeps the shim's
/// constructor, which takes over the process before Swift starts when argv[1] names a shim mode.
int herd_shim_linked(void);

/// The shim itself: argv[1] is the mode (run|exec), then its flags, `--` and the command. Does not return
/// on success (run exits once the container runs; exec becomes the command).
int herd_shim_main(int argc, char **argv);

/// The first argument that puts the `herd` binary in shim mode: `herd __herd-shim run|exec [flags] -- argv...`.
#define HERD_SHIM_ARGUMENT "__herd-shim"

/// Exit codes of `herd __herd-shim run` (the launcher returns once the container runs or could not start).
#define HERD_SHIM_STARTED 0
#define HERD_SHIM_FAILED 1
/// The command cannot run (executable missing or not executable); the message is on stderr.
#define HERD_SHIM_CANNOT_RUN 3
/// Setting up the container failed (cgroup, namespaces, mounts, credentials); the message is on stderr.
#define HERD_SHIM_SETUP_FAILED 4

#endif
