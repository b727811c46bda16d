/*
 * Ed25519 signature verification (RFC 8032 §5.1.7) for @tally/secagg's keys.ts: field
 * elements in five 51-bit limbs (64×64→128-bit products), a signed sliding-window
 * double-scalar multiplication. Variable time: every input is public.
 *
 * Accepts exactly when OpenSSL 3's ossl_ed25519_verify does on a canonical public key:
 * S < L, A decodes, and the encoding of [S]B − [k]A equals R byte for byte
 * (cofactorless), k = SHA-512(R ‖ A ‖ M) mod L. Stricter on encodings: a public key
 * whose y is not below p, or that encodes x = 0 with the sign bit set, is refused (keys.ts
 * refuses those, and small-order keys, before any backend runs).
 */
#ifndef TALLY_ED25519_H
#define TALLY_ED25519_H

#include <stddef.h>
#include <stdint.h>

/* Built where the compiler has 128-bit integers (GCC and Clang on 64-bit targets). */
#if defined(__SIZEOF_INT128__)
#define TALLY_ED25519 1

/* Decoded public keys with their precomputed multiples, by key (a thread's own: no locks). */
#define ED25519_CACHE_SLOTS 256
struct ed25519_cache;
struct ed25519_cache *ed25519_cache_new(void); /* NULL when out of memory */
void ed25519_cache_free(struct ed25519_cache *cache);

/* 1 when sig is a valid signature of msg under pub, 0 when not, -1 when SHA-512 failed.
 * cache (may be NULL) keeps pub decoded for the next signature under it. */
int ed25519_verify(const unsigned char sig[64], const unsigned char *msg, size_t msg_len, const unsigned char pub[32], struct ed25519_cache *cache);

/* out = in mod L: the 64-byte little-endian in, as 32 canonical little-endian bytes. */
void ed25519_sc_reduce(unsigned char out[32], const unsigned char in[64]);
#else
#define TALLY_ED25519 0
#endif

#endif
