/*
 * AES-256-CTR with the x86 VAES instructions (AES rounds on 2 or 4 blocks per instruction),
 * for the mask PRG of prg.c: a 32-byte key, the all-zero initial counter block (so block i
 * is encrypted from the 128-bit big-endian integer i), keystream bytes read as
 * little-endian uint32 lanes. OpenSSL 3.0's CTR mode uses one block per AES-NI
 * instruction; on a CPU with VAES this is 2-4x faster, the same bytes (prg.c's callers
 * check that against node:crypto before using it).
 *
 * Everything here is compiled for the CPU it runs on only through per-function target
 * attributes, and called only after aes_supported() said yes; on other architectures or
 * compilers aes_supported() returns 0 and the stubs are never called.
 */
#ifndef TALLY_AES_H
#define TALLY_AES_H

#include <stddef.h>
#include <stdint.h>

/* Which AES-CTR implementation a kernel instance uses, fastest first. */
enum aes_impl { AES_VAES512 = 0, AES_VAES256 = 1, AES_OPENSSL = 2, AES_IMPLS = 3 };

/* Bytes of one expanded AES-256 key (15 round keys). */
#define AES_SCHEDULE_BYTES 240

/* Whether this CPU and OS run `impl` (AES_OPENSSL: always). */
int aes_supported(enum aes_impl impl);

/* The 15 round keys of AES-256 for `key`, into rk (16-byte aligned). VAES CPUs only. */
void aes256_schedule(const unsigned char key[32], unsigned char rk[AES_SCHEDULE_BYTES]);

/*
 * vec[first .. first + lanes) += sum_j signs[j] * PRG(schedule j)[first .. first + lanes)
 * (mod 2^32), for k schedules at rks + 240 j: the vector's lanes stay in registers while
 * every mask is added. `first` must be a multiple of 64 lanes (a 256-byte group).
 */
void aes_add_masks(enum aes_impl impl, uint32_t *vec, size_t first, size_t lanes, const unsigned char *rks, const int8_t *signs, size_t k);

/* out = the first `bytes` bytes of PRG(rk); with out NULL, made and dropped (a benchmark floor). */
void aes_keystream(enum aes_impl impl, const unsigned char *rk, unsigned char *out, uint64_t bytes);

#endif
