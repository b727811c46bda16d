/*
 * The rounding of @tally/secagg's encodeUpdate (quantize.ts roundInto), lane for lane:
 *   x = clamp(delta[i] * factor, -bound, bound)     (float64, like JS)
 *   out[i] = floor(x) + (coins[i] < (x - floor(x)) * 2^32)   mod 2^32
 * The caller passes |bound| < 2^31 - 1, so floor(x) + 1 fits an int32.
 */
#ifndef TALLY_ROUND_H
#define TALLY_ROUND_H

#include <stddef.h>
#include <stdint.h>

void round_stochastic(const float *delta, double factor, double bound, const uint32_t *coins, uint32_t *out, size_t n);

#endif
