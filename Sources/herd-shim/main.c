// `herd-shim run|exec ...`: the container monitor on its own, without the Swift runtime, so every container
// start and exec costs a C program's start-up (see Sources/CHerdShim/shim.c).
#include "CHerdShim.h"

int main(int argc, char **argv) {
    return herd_shim_main(argc, argv);
}
