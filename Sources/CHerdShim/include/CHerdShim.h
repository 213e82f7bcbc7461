#ifndef CHERDSHIM_H
#define CHERDSHIM_H

/// Nonzero when the shim was linked in; the executable calls it so the linker keeps the shim's
/// constructor, which takes over the process before Swift starts when argv[1] names a shim mode.
int herd_shim_linked(void);

#endif
