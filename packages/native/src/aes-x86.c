/* AES-256-CTR on x86 VAES: see aes.h. */
#include "aes.h"
#include "wipe.h"

#include <string.h>

/* VAES intrinsics need GCC 8 or Clang 6 and later; older compilers build the OpenSSL path only. */
#if (defined(__x86_64__) || defined(__i386__)) && \
    ((defined(__clang__) && __clang_major__ >= 6) || (!defined(__clang__) && defined(__GNUC__) && __GNUC__ >= 8))
#include <cpuid.h>
#include <immintrin.h>

/* XCR0: the register state the OS saves on a context switch (xgetbv needs OSXSAVE, checked first). */
static uint64_t xcr0(void) {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

int aes_supported(enum aes_impl impl) {
  if (impl == AES_OPENSSL) return 1;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
  const int aesni = (c >> 25) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
  if (!aesni || !osxsave || !avx) return 0;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
  const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, vaes = (c >> 9) & 1;
  const uint64_t x = xcr0();
  const int ymm_state = (x & 0x6) == 0x6, zmm_state = (x & 0xe6) == 0xe6;
  if (impl == AES_VAES256) return vaes && avx2 && ymm_state;
  if (impl == AES_VAES512) return vaes && avx512f && avx512bw && zmm_state;
  return 0;
}

#define KEYGEN __attribute__((target("aes,sse2")))

/* One half-step of the AES-256 key schedule: prefix-xor the previous key and add t's word `w`. */
static inline KEYGEN __m128i schedule_step(__m128i key, __m128i t) {
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
  return _mm_xor_si128(key, t);
}

KEYGEN void aes256_schedule(const unsigned char key[32], unsigned char rk[AES_SCHEDULE_BYTES]) {
  __m128i *out = (__m128i *)rk;
  __m128i a = _mm_loadu_si128((const __m128i *)key), b = _mm_loadu_si128((const __m128i *)(key + 16));
  out[0] = a;
  out[1] = b;
  /* FIPS-197 §5.2 for Nk = 8: even round keys take RotWord+SubWord+Rcon of the previous
   * key's last word (aeskeygenassist's word 3), odd ones SubWord alone (its word 2). */
#define EVEN(i, rcon) a = schedule_step(a, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(b, rcon), 0xff)); out[i] = a;
#define ODD(i) b = schedule_step(b, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(a, 0), 0xaa)); out[i] = b;
  EVEN(2, 0x01) ODD(3) EVEN(4, 0x02) ODD(5) EVEN(6, 0x04) ODD(7) EVEN(8, 0x08) ODD(9)
  EVEN(10, 0x10) ODD(11) EVEN(12, 0x20) ODD(13) EVEN(14, 0x40)
#undef EVEN
#undef ODD
}

/*
 * One width of the kernel. A group is 4 registers of W blocks: the counter blocks of
 * blocks b .. b + 4W are made from the little-endian block index in each 128-bit lane's
 * low half, byte-swapped into the lane's high half (the counter is the 128-bit big-endian
 * block index; with the zero initial block its high 64 bits stay 0 below 2^64 blocks). Only
 * each lane's low qword feeds the swap, so adding the index to both qwords is harmless.
 */
#define VAES_KERNEL(SUFFIX, TARGET, V, W, BCAST, LANE_INDEX, XOR, ENC, ENCLAST, ADD, SUB, LOAD, STORE, SHUF, ADD64, SET1_64)         \
  static inline __attribute__((target(TARGET))) void encrypt_##SUFFIX(const unsigned char *rk, const V ctr[4], V x[4]) {           \
    const __m128i *r = (const __m128i *)rk;                                                                                        \
    V k = BCAST(_mm_load_si128(r));                                                                                                \
    for (int i = 0; i < 4; i++) x[i] = XOR(ctr[i], k);                                                                            \
    for (int round = 1; round < 14; round++) {                                                                                     \
      k = BCAST(_mm_load_si128(r + round));                                                                                        \
      for (int i = 0; i < 4; i++) x[i] = ENC(x[i], k);                                                                             \
    }                                                                                                                              \
    k = BCAST(_mm_load_si128(r + 14));                                                                                             \
    for (int i = 0; i < 4; i++) x[i] = ENCLAST(x[i], k);                                                                           \
  }                                                                                                                                \
                                                                                                                                   \
  /* The counter blocks of the group that starts at block index `block`. */                                                      \
  static inline __attribute__((target(TARGET))) void counters_##SUFFIX(uint64_t block, V ctr[4]) {                                \
    const V swap = BCAST(_mm_setr_epi8(-128, -128, -128, -128, -128, -128, -128, -128, 7, 6, 5, 4, 3, 2, 1, 0));                 \
    V c = ADD64(LANE_INDEX, SET1_64((long long)block));                                                                            \
    for (int i = 0; i < 4; i++) {                                                                                                  \
      ctr[i] = SHUF(c, swap);                                                                                                      \
      c = ADD64(c, SET1_64(W));                                                                                                    \
    }                                                                                                                              \
  }                                                                                                                                \
                                                                                                                                   \
  /* 4W blocks of every mask added to the 16W lanes at v (in registers throughout). */                                            \
  static inline __attribute__((target(TARGET))) void group_##SUFFIX(uint32_t *v, uint64_t block, const unsigned char *rks,       \
                                                                    const int8_t *signs, size_t k) {                              \
    V ctr[4], x[4], acc[4];                                                                                                        \
    counters_##SUFFIX(block, ctr);                                                                                                 \
    for (int i = 0; i < 4; i++) acc[i] = LOAD((const void *)(v + i * 4 * W));                                                     \
    for (size_t j = 0; j < k; j++) {                                                                                               \
      encrypt_##SUFFIX(rks + AES_SCHEDULE_BYTES * j, ctr, x);                                                                      \
      if (signs[j] > 0)                                                                                                            \
        for (int i = 0; i < 4; i++) acc[i] = ADD(acc[i], x[i]);                                                                   \
      else                                                                                                                         \
        for (int i = 0; i < 4; i++) acc[i] = SUB(acc[i], x[i]);                                                                   \
    }                                                                                                                              \
    for (int i = 0; i < 4; i++) STORE((void *)(v + i * 4 * W), acc[i]);                                                           \
  }                                                                                                                                \
                                                                                                                                   \
  static __attribute__((target(TARGET))) void add_masks_##SUFFIX(uint32_t *vec, size_t first, size_t lanes,                      \
                                                                 const unsigned char *rks, const int8_t *signs, size_t k) {       \
    const size_t group = 16 * W; /* lanes */                                                                                       \
    size_t done = 0;                                                                                                               \
    for (; done + group <= lanes; done += group) group_##SUFFIX(vec + first + done, (first + done) / 4, rks, signs, k);           \
    if (done < lanes) { /* the last, partial group: through a scratch copy */                                                     \
      uint32_t tail[16 * W] __attribute__((aligned(64)));                                                                          \
      memset(tail, 0, sizeof tail);                                                                                                \
      memcpy(tail, vec + first + done, (lanes - done) * 4);                                                                        \
      group_##SUFFIX(tail, (first + done) / 4, rks, signs, k);                                                                     \
      memcpy(vec + first + done, tail, (lanes - done) * 4);                                                                        \
    }                                                                                                                              \
  }                                                                                                                                \
                                                                                                                                   \
  static __attribute__((target(TARGET))) void keystream_##SUFFIX(const unsigned char *rk, unsigned char *out, uint64_t bytes) {  \
    const uint64_t group = 64 * W; /* bytes */                                                                                     \
    V ctr[4], x[4], sink = SET1_64(0);                                                                            \
    for (uint64_t off = 0; off < bytes; off += group) {                                                                            \
      counters_##SUFFIX(off / 16, ctr);                                                                                            \
      encrypt_##SUFFIX(rk, ctr, x);                                                                                                \
      if (out == NULL) {                                                                                                           \
        for (int i = 0; i < 4; i++) sink = XOR(sink, x[i]);                                                                        \
      } else if (bytes - off >= group) {                                                                                           \
        for (int i = 0; i < 4; i++) STORE((void *)(out + off + i * 16 * W), x[i]);                                               \
      } else {                                                                                                                     \
        unsigned char last[64 * W] __attribute__((aligned(64)));                                                                   \
        for (int i = 0; i < 4; i++) STORE((void *)(last + i * 16 * W), x[i]);                                                     \
        memcpy(out + off, last, (size_t)(bytes - off));                                                                            \
        tally_wipe(last, sizeof last);                                                                                             \
      }                                                                                                                            \
    }                                                                                                                              \
    /* The dropped keystream must still be made: its xor goes to memory the compiler must assume is read. */                   \
    unsigned char drop[16 * W] __attribute__((aligned(64)));                                                                       \
    STORE((void *)drop, sink);                                                                                                     \
    __asm__ __volatile__("" : : "r"(drop) : "memory");                                                                            \
  }

VAES_KERNEL(512, "aes,avx2,avx512f,avx512bw,vaes", __m512i, 4, _mm512_broadcast_i32x4, _mm512_setr_epi64(0, 0, 1, 0, 2, 0, 3, 0),
            _mm512_xor_si512, _mm512_aesenc_epi128, _mm512_aesenclast_epi128, _mm512_add_epi32, _mm512_sub_epi32,
            _mm512_loadu_si512, _mm512_storeu_si512, _mm512_shuffle_epi8, _mm512_add_epi64, _mm512_set1_epi64)

VAES_KERNEL(256, "aes,avx2,vaes", __m256i, 2, _mm256_broadcastsi128_si256, _mm256_setr_epi64x(0, 0, 1, 0), _mm256_xor_si256,
            _mm256_aesenc_epi128, _mm256_aesenclast_epi128, _mm256_add_epi32, _mm256_sub_epi32, _mm256_loadu_si256,
            _mm256_storeu_si256, _mm256_shuffle_epi8, _mm256_add_epi64, _mm256_set1_epi64x)

void aes_add_masks(enum aes_impl impl, uint32_t *vec, size_t first, size_t lanes, const unsigned char *rks, const int8_t *signs, size_t k) {
  if (impl == AES_VAES512) add_masks_512(vec, first, lanes, rks, signs, k);
  else if (impl == AES_VAES256) add_masks_256(vec, first, lanes, rks, signs, k);
}

void aes_keystream(enum aes_impl impl, const unsigned char *rk, unsigned char *out, uint64_t bytes) {
  if (impl == AES_VAES512) keystream_512(rk, out, bytes);
  else if (impl == AES_VAES256) keystream_256(rk, out, bytes);
}

#else /* not x86, or an older compiler: OpenSSL only */

int aes_supported(enum aes_impl impl) { return impl == AES_OPENSSL; }
void aes256_schedule(const unsigned char key[32], unsigned char rk[AES_SCHEDULE_BYTES]) { (void)key; memset(rk, 0, AES_SCHEDULE_BYTES); }
void aes_add_masks(enum aes_impl impl, uint32_t *vec, size_t first, size_t lanes, const unsigned char *rks, const int8_t *signs, size_t k) {
  (void)impl; (void)vec; (void)first; (void)lanes; (void)rks; (void)signs; (void)k;
}
void aes_keystream(enum aes_impl impl, const unsigned char *rk, unsigned char *out, uint64_t bytes) {
  (void)impl; (void)rk; (void)out; (void)bytes;
}

#endif
