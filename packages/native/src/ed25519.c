/*
 * Ed25519 verification (ed25519.h). GF(p), p = 2^255 − 19, in radix 2^51: a field element
 * is five uint64 limbs f0 + f1·2^51 + … + f4·2^204. Limbs stay below 2^54 between
 * operations (mul and sq accept that and return limbs below 2^51 + 2^13); sub carries
 * its result. Points are on −x² + y² = 1 + d·x²·y² in the coordinate systems of Hisil,
 * Wong, Carter and Dawson (2008): extended (X:Y:Z:T), projective (X:Y:Z), "completed"
 * (an addition's result before its last multiplications) and a cached form of an
 * addend, (Y+X, Y−X, Z, 2d·T).
 */
#include "ed25519.h"

#if TALLY_ED25519

#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef uint64_t fe[5];

#define MASK51 ((UINT64_C(1) << 51) - 1)

/* Little-endian encodings (RFC 8032 §5.1): d = −121665/121666, 2d, √−1 = 2^((p−1)/4),
 * the group order L = 2^252 + 27742317777372353535851937790883648493, and the base
 * point B (y = 4/5, x even). */
static const unsigned char D_BYTES[32] = {
  0xa3, 0x78, 0x59, 0x13, 0xca, 0x4d, 0xeb, 0x75, 0xab, 0xd8, 0x41, 0x41, 0x4d, 0x0a, 0x70, 0x00,
  0x98, 0xe8, 0x79, 0x77, 0x79, 0x40, 0xc7, 0x8c, 0x73, 0xfe, 0x6f, 0x2b, 0xee, 0x6c, 0x03, 0x52 };
static const unsigned char D2_BYTES[32] = {
  0x59, 0xf1, 0xb2, 0x26, 0x94, 0x9b, 0xd6, 0xeb, 0x56, 0xb1, 0x83, 0x82, 0x9a, 0x14, 0xe0, 0x00,
  0x30, 0xd1, 0xf3, 0xee, 0xf2, 0x80, 0x8e, 0x19, 0xe7, 0xfc, 0xdf, 0x56, 0xdc, 0xd9, 0x06, 0x24 };
static const unsigned char SQRTM1_BYTES[32] = {
  0xb0, 0xa0, 0x0e, 0x4a, 0x27, 0x1b, 0xee, 0xc4, 0x78, 0xe4, 0x2f, 0xad, 0x06, 0x18, 0x43, 0x2f,
  0xa7, 0xd7, 0xfb, 0x3d, 0x99, 0x00, 0x4d, 0x2b, 0x0b, 0xdf, 0xc1, 0x4f, 0x80, 0x24, 0x83, 0x2b };
static const unsigned char L_BYTES[32] = {
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10 };
static const unsigned char B_BYTES[32] = {
  0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
  0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66 };

/* ---- GF(p) ------------------------------------------------------------------------- */

static uint64_t load64(const unsigned char *b) {
  uint64_t x = 0;
  for (int i = 7; i >= 0; i--) x = (x << 8) | b[i];
  return x;
}

/* The low 255 bits of s (bit 255 is the caller's: a sign, or ignored). */
static void fe_frombytes(fe h, const unsigned char s[32]) {
  const uint64_t w0 = load64(s), w1 = load64(s + 8), w2 = load64(s + 16), w3 = load64(s + 24);
  h[0] = w0 & MASK51;
  h[1] = ((w0 >> 51) | (w1 << 13)) & MASK51;
  h[2] = ((w1 >> 38) | (w2 << 26)) & MASK51;
  h[3] = ((w2 >> 25) | (w3 << 39)) & MASK51;
  h[4] = (w3 >> 12) & MASK51;
}

static void fe_carry(fe h) {
  uint64_t c;
  c = h[0] >> 51; h[0] &= MASK51; h[1] += c;
  c = h[1] >> 51; h[1] &= MASK51; h[2] += c;
  c = h[2] >> 51; h[2] &= MASK51; h[3] += c;
  c = h[3] >> 51; h[3] &= MASK51; h[4] += c;
  c = h[4] >> 51; h[4] &= MASK51; h[0] += 19 * c;
}

/* The canonical encoding (the value reduced below p), bit 255 clear. */
static void fe_tobytes(unsigned char s[32], const fe f) {
  fe t;
  memcpy(t, f, sizeof t);
  fe_carry(t);
  fe_carry(t); /* now t1..t4 < 2^51, t0 < 2^51 + 19: t < 2p */
  uint64_t q = (t[0] + 19) >> 51; /* q = 1 exactly when t ≥ p, i.e. t + 19 ≥ 2^255 */
  q = (t[1] + q) >> 51;
  q = (t[2] + q) >> 51;
  q = (t[3] + q) >> 51;
  q = (t[4] + q) >> 51;
  t[0] += 19 * q; /* t − q·p = t + 19q − q·2^255: the carry out of t4 is the 2^255 */
  uint64_t c;
  c = t[0] >> 51; t[0] &= MASK51; t[1] += c;
  c = t[1] >> 51; t[1] &= MASK51; t[2] += c;
  c = t[2] >> 51; t[2] &= MASK51; t[3] += c;
  c = t[3] >> 51; t[3] &= MASK51; t[4] += c;
  t[4] &= MASK51;
  const uint64_t w[4] = { t[0] | (t[1] << 51), (t[1] >> 13) | (t[2] << 38), (t[2] >> 26) | (t[3] << 25), (t[3] >> 39) | (t[4] << 12) };
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 8; j++) s[8 * i + j] = (unsigned char)(w[i] >> (8 * j));
  }
}

static void fe_copy(fe h, const fe f) { memcpy(h, f, sizeof(fe)); }
static void fe_0(fe h) { memset(h, 0, sizeof(fe)); }
static void fe_1(fe h) { fe_0(h); h[0] = 1; }

static void fe_add(fe h, const fe f, const fe g) {
  for (int i = 0; i < 5; i++) h[i] = f[i] + g[i];
}

/* f − g + 4p, carried; g's limbs below 2^53 − 76. */
static void fe_sub(fe h, const fe f, const fe g) {
  h[0] = f[0] + ((UINT64_C(1) << 53) - 76) - g[0];
  for (int i = 1; i < 5; i++) h[i] = f[i] + ((UINT64_C(1) << 53) - 4) - g[i];
  fe_carry(h);
}

static void fe_neg(fe h, const fe f) {
  fe z;
  fe_0(z);
  fe_sub(h, z, f);
}

static void fe_reduce128(fe h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
  r1 += (uint64_t)(r0 >> 51);
  r2 += (uint64_t)(r1 >> 51);
  r3 += (uint64_t)(r2 >> 51);
  r4 += (uint64_t)(r3 >> 51);
  const u128 t = (u128)(uint64_t)(r4 >> 51) * 19 + ((uint64_t)r0 & MASK51);
  h[0] = (uint64_t)t & MASK51;
  h[1] = ((uint64_t)r1 & MASK51) + (uint64_t)(t >> 51);
  h[2] = (uint64_t)r2 & MASK51;
  h[3] = (uint64_t)r3 & MASK51;
  h[4] = (uint64_t)r4 & MASK51;
}

static void fe_mul(fe h, const fe f, const fe g) {
  const uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
  const uint64_t g0 = g[0], g1 = g[1], g2 = g[2], g3 = g[3], g4 = g[4];
  const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
  const u128 r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 + (u128)f4 * g1_19;
  const u128 r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 + (u128)f4 * g2_19;
  const u128 r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 + (u128)f4 * g3_19;
  const u128 r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 + (u128)f4 * g4_19;
  const u128 r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
  fe_reduce128(h, r0, r1, r2, r3, r4);
}

static void fe_sq(fe h, const fe f) {
  const uint64_t f0 = f[0], f1 = f[1], f2 = f[2], f3 = f[3], f4 = f[4];
  const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f3_19 = 19 * f3, f4_19 = 19 * f4;
  const u128 r0 = (u128)f0 * f0 + (u128)f1_2 * f4_19 + (u128)(2 * f2) * f3_19;
  const u128 r1 = (u128)f0_2 * f1 + (u128)(2 * f2) * f4_19 + (u128)f3 * f3_19;
  const u128 r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)(2 * f3) * f4_19;
  const u128 r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4 * f4_19;
  const u128 r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
  fe_reduce128(h, r0, r1, r2, r3, r4);
}

/* h = f^(2^n) for n ≥ 1. */
static void fe_sqn(fe h, const fe f, int n) {
  fe_sq(h, f);
  for (int i = 1; i < n; i++) fe_sq(h, h);
}

/* z^(2^250 − 1) into t250, and z^11 into z11 (the shared head of invert and pow22523). */
static void fe_pow2_250(fe t250, fe z11, const fe z) {
  fe z2, z9, t, u;
  fe_sq(z2, z);         /* 2 */
  fe_sqn(t, z2, 2);     /* 8 */
  fe_mul(z9, z, t);     /* 9 */
  fe_mul(z11, z2, z9);  /* 11 */
  fe_sq(t, z11);        /* 22 */
  fe_mul(t, t, z9);     /* 31 = 2^5 − 1 */
  fe_sqn(u, t, 5);
  fe_mul(t, u, t);      /* 2^10 − 1 */
  fe t10;
  fe_copy(t10, t);
  fe_sqn(u, t, 10);
  fe_mul(u, u, t);      /* 2^20 − 1 */
  fe v;
  fe_sqn(v, u, 20);
  fe_mul(u, v, u);      /* 2^40 − 1 */
  fe_sqn(u, u, 10);
  fe_mul(t, u, t10);    /* 2^50 − 1 */
  fe t50;
  fe_copy(t50, t);
  fe_sqn(u, t, 50);
  fe_mul(u, u, t);      /* 2^100 − 1 */
  fe_sqn(v, u, 100);
  fe_mul(u, v, u);      /* 2^200 − 1 */
  fe_sqn(u, u, 50);
  fe_mul(t250, u, t50); /* 2^250 − 1 */
}

/* z^(p − 2) = z^(2^255 − 21) = 1/z (0 for 0). */
static void fe_invert(fe h, const fe z) {
  fe t, z11;
  fe_pow2_250(t, z11, z);
  fe_sqn(t, t, 5); /* 2^255 − 32 */
  fe_mul(h, t, z11);
}

/* z^((p − 5)/8) = z^(2^252 − 3). */
static void fe_pow22523(fe h, const fe z) {
  fe t, z11;
  fe_pow2_250(t, z11, z);
  fe_sqn(t, t, 2); /* 2^252 − 4 */
  fe_mul(h, t, z);
}

static int fe_iszero(const fe f) {
  unsigned char s[32];
  fe_tobytes(s, f);
  unsigned char acc = 0;
  for (int i = 0; i < 32; i++) acc |= s[i];
  return acc == 0;
}

static int fe_isnegative(const fe f) {
  unsigned char s[32];
  fe_tobytes(s, f);
  return s[0] & 1;
}

/* ---- the curve ------------------------------------------------------------------------ */

typedef struct { fe X, Y, Z, T; } ge_p3;     /* x = X/Z, y = Y/Z, x·y = T/Z */
typedef struct { fe X, Y, Z; } ge_p2;        /* x = X/Z, y = Y/Z */
typedef struct { fe X, Y, Z, T; } ge_p1p1;   /* x = X/Z, y = Y/T */
typedef struct { fe YplusX, YminusX, Z, T2d; } ge_cached;
typedef struct { fe yplusx, yminusx, xy2d; } ge_precomp; /* an affine addend (Z = 1) */

/* B's odd multiples 1B .. 127B, affine: the base point's digits use 8-bit windows. */
#define B_WINDOW 8
#define B_ODD (1 << (B_WINDOW - 2))
/* A public key's odd multiples 1A .. 15A: 5-bit windows (8 points per key). */
#define A_WINDOW 5
#define A_ODD (1 << (A_WINDOW - 2))

struct ed25519_key {
  unsigned char pub[32];
  int used;
  ge_cached neg[A_ODD]; /* −A, −3A, …, −15A */
};

/* Set once per process (pthread_once): the constants, B's odd multiples, SHA-512. */
static fe D, D2, SQRTM1;
static ge_precomp B_TABLE[B_ODD];
static EVP_MD *SHA512_MD = NULL;
static pthread_once_t ONCE = PTHREAD_ONCE_INIT;

static void p1p1_to_p2(ge_p2 *r, const ge_p1p1 *p) {
  fe_mul(r->X, p->X, p->T);
  fe_mul(r->Y, p->Y, p->Z);
  fe_mul(r->Z, p->Z, p->T);
}

static void p1p1_to_p3(ge_p3 *r, const ge_p1p1 *p) {
  fe_mul(r->X, p->X, p->T);
  fe_mul(r->Y, p->Y, p->Z);
  fe_mul(r->Z, p->Z, p->T);
  fe_mul(r->T, p->X, p->Y);
}

static void p3_to_cached(ge_cached *r, const ge_p3 *p) {
  fe_add(r->YplusX, p->Y, p->X);
  fe_sub(r->YminusX, p->Y, p->X);
  fe_copy(r->Z, p->Z);
  fe_mul(r->T2d, p->T, D2);
}

/* 2p: A = X², B = Y², C = 2Z², then E = (X+Y)² − A − B, G = B − A, F = C − G, H = −(A + B). */
static void p2_dbl(ge_p1p1 *r, const ge_p2 *p) {
  fe a, b, c, xy;
  fe_sq(a, p->X);
  fe_sq(b, p->Y);
  fe_sq(c, p->Z);
  fe_add(c, c, c);
  fe_add(xy, p->X, p->Y);
  fe_sq(xy, xy);
  fe_add(r->Y, b, a);      /* B + A */
  fe_sub(r->Z, b, a);      /* B − A */
  fe_sub(r->X, xy, r->Y);  /* (X+Y)² − A − B */
  fe_sub(r->T, c, r->Z);   /* 2Z² − (B − A) */
}

static void p3_dbl(ge_p1p1 *r, const ge_p3 *p) {
  ge_p2 q;
  fe_copy(q.X, p->X);
  fe_copy(q.Y, p->Y);
  fe_copy(q.Z, p->Z);
  p2_dbl(r, &q);
}

/* p ± q for q given as (Y+X, Y−X, 2d·T) and its Z, or with Z = 1 (z NULL: an affine q).
 * −q = (Y−X, Y+X, −2d·T), so subtracting swaps the first two and negates the third. */
static void add_parts(ge_p1p1 *r, const ge_p3 *p, const uint64_t *ypx_q, const uint64_t *ymx_q, const uint64_t *t2d_q, const uint64_t *z_q, int sub) {
  fe a, b, c, zz, ypx, ymx;
  fe_add(ypx, p->Y, p->X);
  fe_sub(ymx, p->Y, p->X);
  fe_mul(b, ypx, sub ? ymx_q : ypx_q);
  fe_mul(a, ymx, sub ? ypx_q : ymx_q);
  fe_mul(c, p->T, t2d_q);
  if (z_q != NULL) fe_mul(zz, p->Z, z_q);
  else fe_copy(zz, p->Z);
  fe_add(zz, zz, zz);
  fe_sub(r->X, b, a);
  fe_add(r->Y, b, a);
  if (sub) {
    fe_sub(r->Z, zz, c);
    fe_add(r->T, zz, c);
  } else {
    fe_add(r->Z, zz, c);
    fe_sub(r->T, zz, c);
  }
}

static void ge_add(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q, int sub) { add_parts(r, p, q->YplusX, q->YminusX, q->T2d, q->Z, sub); }
static void ge_madd(ge_p1p1 *r, const ge_p3 *p, const ge_precomp *q, int sub) { add_parts(r, p, q->yplusx, q->yminusx, q->xy2d, NULL, sub); }

/*
 * The point encoded by s, or 0: y must be below p, x must exist, and x = 0 must not come
 * with the sign bit set (RFC 8032 §5.1.3, with the canonical-y check of §5.1.7's strict
 * reading).
 */
static int ge_frombytes(ge_p3 *h, const unsigned char s[32]) {
  fe y, u, v, v3, x, vxx, check;
  fe_frombytes(y, s);
  unsigned char canon[32];
  fe_tobytes(canon, y);
  if (memcmp(canon, s, 31) != 0 || canon[31] != (s[31] & 0x7f)) return 0;
  const int sign = s[31] >> 7;
  fe one;
  fe_1(one);
  fe_sq(u, y);
  fe_mul(v, u, D);
  fe_sub(u, u, one);  /* y² − 1 */
  fe_add(v, v, one);  /* d·y² + 1 */
  fe_sq(v3, v);
  fe_mul(v3, v3, v);  /* v³ */
  fe_sq(x, v3);
  fe_mul(x, x, v);
  fe_mul(x, x, u);    /* u·v⁷ */
  fe_pow22523(x, x);
  fe_mul(x, x, v3);
  fe_mul(x, x, u);    /* u·v³·(u·v⁷)^((p−5)/8) */
  fe_sq(vxx, x);
  fe_mul(vxx, vxx, v);
  fe_sub(check, vxx, u);
  if (!fe_iszero(check)) {
    fe_add(check, vxx, u);
    if (!fe_iszero(check)) return 0;
    fe_mul(x, x, SQRTM1);
  }
  if (fe_iszero(x) && sign) return 0;
  if (fe_isnegative(x) != sign) fe_neg(x, x);
  fe_copy(h->X, x);
  fe_copy(h->Y, y);
  fe_1(h->Z);
  fe_mul(h->T, x, y);
  return 1;
}

static void ge_tobytes(unsigned char s[32], const ge_p2 *p) {
  fe recip, x, y;
  fe_invert(recip, p->Z);
  fe_mul(x, p->X, recip);
  fe_mul(y, p->Y, recip);
  fe_tobytes(s, y);
  s[31] ^= (unsigned char)(fe_isnegative(x) << 7);
}

/* P, 3P, 5P, …, (2n − 1)P in cached form. */
static void odd_multiples(ge_cached *t, int n, const ge_p3 *p) {
  ge_p1p1 r;
  ge_p3 p2, q;
  p3_to_cached(&t[0], p);
  p3_dbl(&r, p);
  p1p1_to_p3(&p2, &r);
  for (int i = 1; i < n; i++) {
    ge_add(&r, &p2, &t[i - 1], 0);
    p1p1_to_p3(&q, &r);
    p3_to_cached(&t[i], &q);
  }
}

static void init(void) {
  fe_frombytes(D, D_BYTES);
  fe_frombytes(D2, D2_BYTES);
  fe_frombytes(SQRTM1, SQRTM1_BYTES);
  ge_p3 b;
  (void)ge_frombytes(&b, B_BYTES); /* the tests check B through RFC 8032's vectors */
  ge_cached t[B_ODD];
  odd_multiples(t, B_ODD, &b);
  for (int i = 0; i < B_ODD; i++) {
    /* back from (Y+X, Y−X, Z, 2dT) to affine: x = ((Y+X) − (Y−X))/2Z, y = ((Y+X) + (Y−X))/2Z */
    fe z2, inv, x, y, xy;
    fe_add(z2, t[i].Z, t[i].Z);
    fe_invert(inv, z2);
    fe_sub(x, t[i].YplusX, t[i].YminusX);
    fe_add(y, t[i].YplusX, t[i].YminusX);
    fe_mul(x, x, inv);
    fe_mul(y, y, inv);
    fe_add(B_TABLE[i].yplusx, y, x);
    fe_sub(B_TABLE[i].yminusx, y, x);
    fe_mul(xy, x, y);
    fe_mul(B_TABLE[i].xy2d, xy, D2);
  }
  SHA512_MD = EVP_MD_fetch(NULL, "SHA512", NULL);
}

/*
 * Signed digits r[0..255] of the 256-bit little-endian a, each 0 or odd with |r[i]| below
 * 2^(w−1), a = Σ r[i]·2^i and any two nonzero digits at least w positions apart: a
 * sliding window over a's bits that borrows from the bits above when a window would
 * exceed the bound. a must be below 2^253 (so that a borrow never runs past bit 255): S
 * and k are below L.
 */
static void slide(signed char r[256], const unsigned char a[32], int w) {
  const int top = (1 << (w - 1)) - 1;
  for (int i = 0; i < 256; i++) r[i] = (signed char)(1 & (a[i >> 3] >> (i & 7)));
  for (int i = 0; i < 256; i++) {
    if (r[i] == 0) continue;
    for (int b = 1; b <= w + 1 && i + b < 256; b++) {
      if (r[i + b] == 0) continue;
      const int add = r[i + b] * (1 << b);
      if (r[i] + add <= top) {
        r[i] = (signed char)(r[i] + add);
        r[i + b] = 0;
      } else if (r[i] - add >= -top) {
        r[i] = (signed char)(r[i] - add);
        for (int k = i + b; k < 256; k++) {
          if (r[k] == 0) {
            r[k] = 1;
            break;
          }
          r[k] = 0;
        }
      } else {
        break;
      }
    }
  }
}

/* [a]P + [b]B from P's odd multiples, variable time (a and b below 2^253). */
static void double_scalarmult(ge_p2 *r, const unsigned char a[32], const ge_cached at[A_ODD], const unsigned char b[32]) {
  signed char as[256], bs[256];
  slide(as, a, A_WINDOW);
  slide(bs, b, B_WINDOW);
  fe_0(r->X);
  fe_1(r->Y);
  fe_1(r->Z);
  int i = 255;
  while (i >= 0 && as[i] == 0 && bs[i] == 0) i--;
  ge_p1p1 t;
  ge_p3 u;
  for (; i >= 0; i--) {
    p2_dbl(&t, r);
    if (as[i] != 0) {
      p1p1_to_p3(&u, &t);
      ge_add(&t, &u, &at[(as[i] > 0 ? as[i] : -as[i]) / 2], as[i] < 0);
    }
    if (bs[i] != 0) {
      p1p1_to_p3(&u, &t);
      ge_madd(&t, &u, &B_TABLE[(bs[i] > 0 ? bs[i] : -bs[i]) / 2], bs[i] < 0);
    }
    p1p1_to_p2(r, &t);
  }
}

/* ---- scalars mod L ------------------------------------------------------------------- */

/* Bits [at, at + n) of the little-endian b (n ≤ 32, at + n ≤ 8·len). */
static int64_t bits_of(const unsigned char *b, size_t len, unsigned at, unsigned n) {
  uint64_t x = 0;
  const unsigned first = at / 8;
  for (unsigned i = 0; i < 8 && first + i < len; i++) x |= (uint64_t)b[first + i] << (8 * i);
  return (int64_t)((x >> (at % 8)) & ((UINT64_C(1) << n) - 1));
}

/* s[i]·2^(21 i), i ≥ 12, folded into s[i − 12 .. i − 7] with 2^252 ≡ −(L − 2^252) (mod L),
 * whose signed 21-bit digits are 666643, 470296, 654183, −997805, 136657, −683901. */
static void sc_fold(int64_t *s, int i) {
  const int64_t x = s[i];
  s[i - 12] += x * 666643;
  s[i - 11] += x * 470296;
  s[i - 10] += x * 654183;
  s[i - 9] -= x * 997805;
  s[i - 8] += x * 136657;
  s[i - 7] -= x * 683901;
  s[i] = 0;
}

/* Rounding carries: s[j] into [−2^20, 2^20) for j in [from, to), the excess into s[j + 1]. */
static void sc_carry(int64_t *s, int from, int to) {
  for (int j = from; j < to; j++) {
    const int64_t c = (s[j] + ((int64_t)1 << 20)) >> 21;
    s[j + 1] += c;
    s[j] -= c * ((int64_t)1 << 21);
  }
}

/* 256-bit little-endian limbs: r = a + b (mod 2^256), and a − b; compare. */
static void u256_add(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
  u128 c = 0;
  for (int i = 0; i < 4; i++) {
    c += (u128)a[i] + b[i];
    r[i] = (uint64_t)c;
    c >>= 64;
  }
}
static void u256_sub(uint64_t r[4], const uint64_t a[4], const uint64_t b[4]) {
  uint64_t borrow = 0;
  for (int i = 0; i < 4; i++) {
    const uint64_t ai = a[i], bi = b[i];
    r[i] = ai - bi - borrow;
    borrow = (ai < bi) || (ai == bi && borrow) ? 1 : 0;
  }
}
static int u256_geq(const uint64_t a[4], const uint64_t b[4]) {
  for (int i = 3; i >= 0; i--) {
    if (a[i] != b[i]) return a[i] > b[i];
  }
  return 1;
}

/* out = the 64-byte little-endian in, mod L, as 32 canonical little-endian bytes. */
void ed25519_sc_reduce(unsigned char out[32], const unsigned char in[64]) {
  int64_t s[24];
  for (int i = 0; i < 23; i++) s[i] = bits_of(in, 64, 21 * (unsigned)i, 21);
  s[23] = bits_of(in, 64, 483, 29);
  for (int i = 23; i >= 18; i--) sc_fold(s, i); /* into s[6..16] */
  sc_carry(s, 6, 17);                            /* s[17] < 2^33 */
  for (int i = 17; i >= 12; i--) sc_fold(s, i); /* into s[0..10] */
  sc_carry(s, 0, 12);
  sc_fold(s, 12);
  sc_carry(s, 0, 12);
  sc_fold(s, 12);
  sc_carry(s, 0, 11); /* Σ s[j]·2^(21 j), j < 12, each |s[j]| < 2^21: |value| < 2^253 */
  /* To 256-bit two's complement, then into [0, L). */
  uint64_t v[4] = { 0, 0, 0, 0 };
  for (int j = 11; j >= 0; j--) {
    /* v = v·2^21 + s[j] (mod 2^256) */
    uint64_t sh[4];
    sh[3] = (v[3] << 21) | (v[2] >> 43);
    sh[2] = (v[2] << 21) | (v[1] >> 43);
    sh[1] = (v[1] << 21) | (v[0] >> 43);
    sh[0] = v[0] << 21;
    const uint64_t ext = s[j] < 0 ? UINT64_MAX : 0;
    const uint64_t d[4] = { (uint64_t)s[j], ext, ext, ext };
    u256_add(v, sh, d);
  }
  uint64_t l[4];
  for (int i = 0; i < 4; i++) l[i] = load64(L_BYTES + 8 * i);
  while (v[3] >> 63) u256_add(v, v, l);  /* negative: add L until not */
  while (u256_geq(v, l)) u256_sub(v, v, l);
  for (int i = 0; i < 4; i++) {
    for (int j = 0; j < 8; j++) out[8 * i + j] = (unsigned char)(v[i] >> (8 * j));
  }
}

/* Whether the little-endian s is below L. */
static int sc_canonical(const unsigned char s[32]) {
  for (int i = 31; i >= 0; i--) {
    if (s[i] != L_BYTES[i]) return s[i] < L_BYTES[i];
  }
  return 0;
}

/* ---- verification -------------------------------------------------------------------- */

static int sha512_3(unsigned char out[64], const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len, const unsigned char *c, size_t c_len) {
  EVP_MD_CTX *ctx = EVP_MD_CTX_new();
  unsigned len = 0;
  const int ok = ctx != NULL && SHA512_MD != NULL && EVP_DigestInit_ex(ctx, SHA512_MD, NULL) == 1 && EVP_DigestUpdate(ctx, a, a_len) == 1 &&
                 EVP_DigestUpdate(ctx, b, b_len) == 1 && (c_len == 0 || EVP_DigestUpdate(ctx, c, c_len) == 1) &&
                 EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 64;
  EVP_MD_CTX_free(ctx);
  return ok;
}

/* k ← pub decoded, with −A's odd multiples; 0 when pub does not decode. */
static int key_init(struct ed25519_key *k, const unsigned char pub[32]) {
  ge_p3 a;
  k->used = 0;
  if (!ge_frombytes(&a, pub)) return 0;
  fe_neg(a.X, a.X);
  fe_neg(a.T, a.T);
  odd_multiples(k->neg, A_ODD, &a);
  memcpy(k->pub, pub, 32);
  k->used = 1;
  return 1;
}

struct ed25519_cache {
  struct ed25519_key slots[ED25519_CACHE_SLOTS];
};

struct ed25519_cache *ed25519_cache_new(void) { return calloc(1, sizeof(struct ed25519_cache)); }
void ed25519_cache_free(struct ed25519_cache *c) { free(c); }

int ed25519_verify(const unsigned char sig[64], const unsigned char *msg, size_t msg_len, const unsigned char pub[32], struct ed25519_cache *cache) {
  pthread_once(&ONCE, init);
  if (!sc_canonical(sig + 32)) return 0;
  struct ed25519_key local, *key = &local;
  if (cache != NULL) {
    /* direct-mapped on the key's first bytes (public keys are uniformly distributed) */
    const unsigned slot = ((unsigned)pub[0] | ((unsigned)pub[1] << 8)) % ED25519_CACHE_SLOTS;
    key = &cache->slots[slot];
    if (!(key->used && memcmp(key->pub, pub, 32) == 0) && !key_init(key, pub)) return 0;
  } else if (!key_init(key, pub)) {
    return 0;
  }
  unsigned char h[64], k[32];
  if (!sha512_3(h, sig, 32, pub, 32, msg, msg_len)) return -1;
  ed25519_sc_reduce(k, h);
  /* [S]B − [k]A = [k](−A) + [S]B */
  ge_p2 r;
  double_scalarmult(&r, k, key->neg, sig + 32);
  unsigned char rcheck[32];
  ge_tobytes(rcheck, &r);
  return memcmp(rcheck, sig, 32) == 0;
}

#endif
