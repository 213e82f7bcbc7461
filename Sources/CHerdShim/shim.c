#include "CHerdShim.h"

int herd_shim_linked(void) { return 1; }
