/* Stochastic rounding of a float32 update into uint32 lanes: see round.h. */
#include "round.h"

#include <math.h>

/* gcc makes one copy per x86-64 level and picks at load (AVX-512 here: 8 lanes a step).
 * The addon is built with -fno-trapping-math (which lets it vectorize floor; results
 * are unchanged) and -ffp-contract=off (no fused multiply-add: the same roundings as JS). */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11 /* arch=x86-64-v4 */
__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
void round_stochastic(const float *restrict delta, double factor, double bound, const uint32_t *restrict coins, uint32_t *restrict out, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double x = (double)delta[i] * factor;
    x = x > bound ? bound : x;
    x = x < -bound ? -bound : x;
    x = x == x ? x : 0.0; /* NaN: JS's (NaN >>> 0) is 0, and so is this */
    const double f = floor(x);
    /* x - floor(x) is exact in float64, and so is the scaling by 2^32 and the coin's conversion. */
    const double t = (x - f) * 4294967296.0;
    out[i] = (uint32_t)((int32_t)f + ((double)coins[i] < t));
  }
}
