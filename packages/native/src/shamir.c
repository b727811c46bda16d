/* Shamir share evaluation over GF(p), p = 2^256 + 297: see shamir.h. */
#include "shamir.h"
#include "wipe.h"

#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* p = 2^256 + 297 as five little-endian 64-bit limbs. */
static const uint64_t P[5] = { 297, 0, 0, 0, 1 };

static void from_bytes(const unsigned char b[SHAMIR_ELEMENT_BYTES], uint64_t v[5]) {
  /* b is 33 big-endian bytes: b[0] is bit 256 and up, b[1..32] the low 256 bits. */
  v[4] = b[0];
  for (int limb = 0; limb < 4; limb++) {
    uint64_t w = 0;
    for (int i = 0; i < 8; i++) w = (w << 8) | b[SHAMIR_ELEMENT_BYTES - 1 - (limb * 8 + 7 - i)];
    v[limb] = w;
  }
}

static void to_bytes(const uint64_t v[5], unsigned char b[SHAMIR_ELEMENT_BYTES]) {
  b[0] = (unsigned char)v[4];
  for (int limb = 0; limb < 4; limb++)
    for (int i = 0; i < 8; i++) b[SHAMIR_ELEMENT_BYTES - 1 - (limb * 8 + i)] = (unsigned char)(v[limb] >> (8 * i));
}

/* v >= p, for v < 2^320. */
static int geq_p(const uint64_t v[5]) {
  if (v[4] != 1) return v[4] > 1;
  return (v[3] | v[2] | v[1]) != 0 || v[0] >= P[0];
}

/* v -= p, for v >= p. */
static void sub_p(uint64_t v[5]) {
  u128 borrow = 0;
  for (int i = 0; i < 5; i++) {
    const u128 d = (u128)v[i] - P[i] - borrow;
    v[i] = (uint64_t)d;
    borrow = (d >> 64) & 1;
  }
}

int shamir_is_element(const unsigned char b[SHAMIR_ELEMENT_BYTES]) {
  uint64_t v[5];
  from_bytes(b, v);
  return !geq_p(v);
}

/* y = (y * x + c) mod p, for y, c < p and x < 2^32. */
static void horner_step(uint64_t y[5], uint32_t x, const uint64_t c[5]) {
  /* y * x: up to 289 bits, in six limbs. */
  uint64_t m[6];
  u128 carry = 0;
  for (int i = 0; i < 5; i++) {
    const u128 t = (u128)y[i] * x + carry;
    m[i] = (uint64_t)t;
    carry = t >> 64;
  }
  m[5] = (uint64_t)carry;
  /* m = hi * 2^256 + lo with hi < 2^33, and 2^256 = -297 (mod p): m = lo + p - 297 hi (mod p),
   * a value in [p - 2^42, 2^256 + p): below 2p, so one subtraction of p at most. */
  const uint64_t t297 = (uint64_t)((((u128)m[5] << 64) | m[4]) * 297); /* < 2^42 */
  uint64_t r[5];
  u128 acc = (u128)m[0] + P[0]; /* lo + p, limb by limb (p's limbs 1..3 are 0) */
  const uint64_t s0 = (uint64_t)acc;
  acc >>= 64;
  uint64_t s[5] = { s0, 0, 0, 0, 0 };
  for (int i = 1; i < 4; i++) {
    acc += m[i];
    s[i] = (uint64_t)acc;
    acc >>= 64;
  }
  s[4] = (uint64_t)acc + P[4];
  u128 d = (u128)s[0] - t297; /* then - 297 hi, which fits limb 0 */
  r[0] = (uint64_t)d;
  uint64_t borrow = (uint64_t)(d >> 64) & 1;
  for (int i = 1; i < 5; i++) {
    d = (u128)s[i] - borrow;
    r[i] = (uint64_t)d;
    borrow = (uint64_t)(d >> 64) & 1;
  }
  if (geq_p(r)) sub_p(r);
  /* + c: below 2p again. */
  carry = 0;
  for (int i = 0; i < 5; i++) {
    const u128 t = (u128)r[i] + c[i] + carry;
    y[i] = (uint64_t)t;
    carry = t >> 64;
  }
  if (geq_p(y)) sub_p(y);
}

int shamir_eval(const unsigned char *coeffs, size_t t, const uint32_t *xs, size_t n, unsigned char *out) {
  /* The coefficients as limbs once, not once per point. */
  uint64_t (*c)[5] = malloc(t * sizeof *c);
  if (c == NULL) return 0;
  for (size_t k = 0; k < t; k++) from_bytes(coeffs + SHAMIR_ELEMENT_BYTES * k, c[k]);
  for (size_t j = 0; j < n; j++) {
    uint64_t y[5] = { 0, 0, 0, 0, 0 };
    for (size_t k = t; k-- > 0;) horner_step(y, xs[j], c[k]);
    to_bytes(y, out + SHAMIR_ELEMENT_BYTES * j);
    memset(y, 0, sizeof y);
  }
  tally_wipe(c, t * sizeof *c); /* the polynomial determines the secret */
  free(c);
  return 1;
}
