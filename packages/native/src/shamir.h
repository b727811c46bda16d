/*
 * Shamir share evaluation for @tally/secagg's shamir.ts: f(x) = c_0 + c_1 x + ... +
 * c_{t-1} x^{t-1} over GF(p), p = 2^256 + 297, at each x < 2^32, by Horner's rule with
 * 64-bit limbs (the JS path does the same with BigInt). Field elements are 33-byte
 * big-endian integers below p, as on the wire.
 */
#ifndef TALLY_SHAMIR_H
#define TALLY_SHAMIR_H

#include <stddef.h>
#include <stdint.h>

#define SHAMIR_ELEMENT_BYTES 33

/* Whether the 33 big-endian bytes are below p. */
int shamir_is_element(const unsigned char b[SHAMIR_ELEMENT_BYTES]);

/* out[33 j .. 33 j + 33) = f(xs[j]) for the t coefficients at coeffs (33 bytes each, each
 * below p); 0 when it could not allocate the t coefficients' limbs. */
int shamir_eval(const unsigned char *coeffs, size_t t, const uint32_t *xs, size_t n, unsigned char *out);

#endif
