/* A shared library with one hot function, for symbol resolution tests. */
#include "work.h"

volatile uint64_t work_sink;

void libwork_ten(long units) { WORK_LOOP(units); }
