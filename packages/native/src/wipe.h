/* Clearing secret memory so the compiler cannot drop it: the empty asm claims to read it. */
#ifndef TALLY_WIPE_H
#define TALLY_WIPE_H

#include <string.h>

static inline void tally_wipe(void *p, size_t n) {
  memset(p, 0, n);
  __asm__ __volatile__("" : : "r"(p) : "memory");
}

#endif
