/*
 * Tally's native mask kernel: the mask PRG of @tally/secagg (AES-256-CTR under a
 * 32-byte key with an all-zero initial counter block, read as little-endian uint32
 * lanes) expanded straight into the caller's vector. Where the CPU has VAES (aes-x86.c:
 * 4 or 2 blocks per AES instruction) the keystream never leaves the registers; elsewhere
 * it comes from the OpenSSL of the Node binary that loads this addon (AES-NI where the
 * CPU has it, one block per instruction).
 *
 * Why it exists: node:crypto has no "update into this buffer"; every cipher.update()
 * returns a fresh buffer (allocated twice and copied once inside Node for CTR), and
 * the JS side then copies it again into the vector's memory. Here each keystream chunk
 * goes into one 16 KiB scratch on the stack and is added to the vector while both sit
 * in L1/L2: no allocation, no garbage, no page faults.
 *
 * Exports (all synchronous; every argument is checked, a wrong one throws):
 *   addMasks(vec, keys, signs)  vec[i] += sum_j signs[j] * PRG(keys[32j..32j+32])[i]  (mod 2^32)
 *   addVector(acc, x, sign)     acc[i] += sign * x[i]                                  (mod 2^32)
 *   keystream(key, out)         out = the first out.byteLength bytes of PRG(key)
 *   discardKeystream(key, n)    makes n bytes of PRG(key) and drops them
 *                               (the benchmarks' AES floor for this kernel)
 *   roundStochastic(delta, factor, bound, coins, out)
 *                               out[i] = stochastic rounding of clamp(delta[i]·factor, ±bound)
 *                               with coin coins[i] (round.h; quantize.ts roundInto, lane for lane)
 *   shamirEval(coeffs, xs, out)  out[33j..33j+33) = f(xs[j]) for f with the 33-byte big-endian
 *                               coefficients in coeffs, over GF(2^256 + 297) (shamir.h)
 *   ed25519Verify(sig, msg, pub)
 *                               whether sig is a valid Ed25519 signature of msg under pub
 *                               (ed25519.h; where the compiler has 128-bit integers)
 *   hkdfSha256(ikm, salt, info, out)
 *                               out = HKDF-SHA-256 (RFC 5869) of ikm with salt and info, out.length
 *                               bytes (at most 255 * 32), with OpenSSL's HMAC
 *   aesImplementations()        the AES implementations this CPU runs, fastest first:
 *                               "vaes512", "vaes256", "openssl"
 *   aes()                       the one this instance uses (the first, until useAes)
 *   useAes(name)                switches this instance (one per thread) to another
 * vec, acc, x: typed arrays of 4-byte-aligned memory, a multiple of 4 bytes long;
 * keys, key, out: Uint8Array; signs: Int8Array of +1 / -1.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

#include "aes.h"
#include "ed25519.h"
#include "round.h"
#include "shamir.h"
#include "wipe.h"

#define CHUNK_BYTES 16384
#define MAX_KEYS 4096
/* VAES: the vector is walked in chunks of this many lanes (16 KiB, in L1), each chunk
 * with KEY_TILE masks at a time (7.5 KiB of round keys, also in L1). */
#define CHUNK_LANES 4096
#define KEY_TILE 32

static const char *const AES_NAMES[AES_IMPLS] = { "vaes512", "vaes256", "openssl" };

/* Per addon instance (one per thread that loads it): the AES implementation in use, and
 * (made on first use) the Ed25519 public keys this thread verified under, decoded. */
struct instance {
  enum aes_impl aes;
#if TALLY_ED25519
  struct ed25519_cache *keys;
#endif
};

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env; (void)hint;
#if TALLY_ED25519
  ed25519_cache_free(((struct instance *)data)->keys);
#endif
  free(data);
}

static enum aes_impl impl_of(napi_env env) {
  struct instance *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) != napi_ok || st == NULL) return AES_OPENSSL;
  return st->aes;
}


static const unsigned char ZEROS[CHUNK_BYTES];
static const unsigned char ZERO_IV[16];

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, NULL, msg);
  return NULL;
}

static napi_value throw_range(napi_env env, const char *msg) {
  napi_throw_range_error(env, NULL, msg);
  return NULL;
}

/* The call's arguments into argv[n]; 0 (after a TypeError naming `usage`) unless exactly n came. */
static int args_of(napi_env env, napi_callback_info info, size_t n, napi_value *argv, const char *usage) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc != n) {
    throw_type(env, usage);
    return 0;
  }
  return 1;
}

/* A typed array's data and byte length; 0 when arg is not a typed array. */
static int typed(napi_env env, napi_value arg, napi_typedarray_type *type, void **data, size_t *bytes) {
  bool is = false;
  if (napi_is_typedarray(env, arg, &is) != napi_ok || !is) return 0;
  size_t length = 0, offset = 0;
  napi_value ab;
  if (napi_get_typedarray_info(env, arg, type, &length, data, &ab, &offset) != napi_ok) return 0;
  size_t elem = 1;
  switch (*type) {
    case napi_int16_array: case napi_uint16_array: elem = 2; break;
    case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
    case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
    default: elem = 1;
  }
  *bytes = length * elem;
  return 1;
}

/* A vector argument: 4-byte aligned, a whole number of lanes. */
static int lanes_arg(napi_env env, napi_value arg, uint32_t **vec, size_t *lanes, const char *what) {
  napi_typedarray_type type;
  void *data = NULL;
  size_t bytes = 0;
  char msg[160];
  if (!typed(env, arg, &type, &data, &bytes)) {
    snprintf(msg, sizeof msg, "%s: expected a typed array", what);
    throw_type(env, msg);
    return 0;
  }
  if (bytes % 4 != 0 || (bytes > 0 && ((uintptr_t)data) % 4 != 0)) {
    snprintf(msg, sizeof msg, "%s: expected 4-byte-aligned memory of a multiple of 4 bytes, got %zu bytes", what, bytes);
    throw_range(env, msg);
    return 0;
  }
  *vec = (uint32_t *)data;
  *lanes = bytes / 4;
  return 1;
}

static int bytes_arg(napi_env env, napi_value arg, unsigned char **data, size_t *bytes, const char *what) {
  napi_typedarray_type type;
  void *d = NULL;
  char msg[160];
  if (!typed(env, arg, &type, &d, bytes) || type != napi_uint8_array) {
    snprintf(msg, sizeof msg, "%s: expected a Uint8Array", what);
    throw_type(env, msg);
    return 0;
  }
  *data = (unsigned char *)d;
  return 1;
}

static EVP_CIPHER_CTX *new_ctr(const unsigned char *key) {
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return NULL;
  if (EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, key, ZERO_IV) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static int next_chunk(EVP_CIPHER_CTX *ctx, unsigned char *out, size_t n) {
  int outl = 0;
  return EVP_EncryptUpdate(ctx, out, &outl, ZEROS, (int)n) == 1 && (size_t)outl == n;
}

static void add_lanes(uint32_t *restrict v, const uint32_t *restrict k, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] += k[i];
}

static void sub_lanes(uint32_t *restrict v, const uint32_t *restrict k, size_t n) {
  for (size_t i = 0; i < n; i++) v[i] -= k[i];
}

/* The host must be little-endian: the lanes are defined as little-endian (checked at load). */
static napi_value add_masks(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_of(env, info, 3, argv, "addMasks: expected (vec, keys, signs)")) return NULL;
  uint32_t *vec;
  size_t lanes;
  if (!lanes_arg(env, argv[0], &vec, &lanes, "addMasks vec")) return NULL;
  unsigned char *keys;
  size_t key_bytes;
  if (!bytes_arg(env, argv[1], &keys, &key_bytes, "addMasks keys")) return NULL;
  napi_typedarray_type type;
  void *sdata = NULL;
  size_t k = 0;
  if (!typed(env, argv[2], &type, &sdata, &k) || type != napi_int8_array) return throw_type(env, "addMasks signs: expected an Int8Array");
  if (k > MAX_KEYS) return throw_range(env, "addMasks signs: more than 4096 masks in one call");
  if (key_bytes != 32 * k) return throw_range(env, "addMasks keys: expected 32 bytes per sign");
  const int8_t *signs = (const int8_t *)sdata;
  for (size_t j = 0; j < k; j++) {
    if (signs[j] != 1 && signs[j] != -1) return throw_range(env, "addMasks signs: expected every sign to be 1 or -1");
  }
  if (k == 0 || lanes == 0) return NULL;

  const enum aes_impl impl = impl_of(env);
  if (impl != AES_OPENSSL) {
    unsigned char *rks = aligned_alloc(64, ((k * AES_SCHEDULE_BYTES + 63) / 64) * 64);
    if (rks == NULL) {
      napi_throw_error(env, NULL, "addMasks: out of memory for the AES key schedules");
      return NULL;
    }
    for (size_t j = 0; j < k; j++) aes256_schedule(keys + 32 * j, rks + AES_SCHEDULE_BYTES * j);
    /* Chunk-major again, and within a chunk KEY_TILE masks at a time. Addition mod 2^32
     * commutes: the same sum in any order. */
    for (size_t first = 0; first < lanes; first += CHUNK_LANES) {
      size_t n = lanes - first < CHUNK_LANES ? lanes - first : CHUNK_LANES;
      for (size_t j = 0; j < k; j += KEY_TILE) {
        size_t t = k - j < KEY_TILE ? k - j : KEY_TILE;
        aes_add_masks(impl, vec, first, n, rks + AES_SCHEDULE_BYTES * j, signs + j, t);
      }
    }
    tally_wipe(rks, k * AES_SCHEDULE_BYTES);
    free(rks);
    return NULL;
  }

  EVP_CIPHER_CTX *ctx[MAX_KEYS];
  for (size_t j = 0; j < k; j++) {
    ctx[j] = new_ctr(keys + 32 * j);
    if (ctx[j] == NULL) {
      for (size_t i = 0; i < j; i++) EVP_CIPHER_CTX_free(ctx[i]);
      napi_throw_error(env, NULL, "addMasks: OpenSSL could not set up AES-256-CTR");
      return NULL;
    }
  }
  /* Chunk-major: each 16 KiB slice of the vector stays in L1 while every mask's next
   * keystream chunk is added to it. Addition mod 2^32 commutes: same sum in any order. */
  uint32_t scratch[CHUNK_BYTES / 4] __attribute__((aligned(64)));
  int ok = 1;
  size_t bytes = lanes * 4;
  for (size_t off = 0; off < bytes && ok; off += CHUNK_BYTES) {
    size_t n = bytes - off < CHUNK_BYTES ? bytes - off : CHUNK_BYTES;
    uint32_t *v = vec + off / 4;
    for (size_t j = 0; j < k; j++) {
      if (!next_chunk(ctx[j], (unsigned char *)scratch, n)) { ok = 0; break; }
      if (signs[j] == 1) add_lanes(v, scratch, n / 4);
      else sub_lanes(v, scratch, n / 4);
    }
  }
  for (size_t j = 0; j < k; j++) EVP_CIPHER_CTX_free(ctx[j]); /* clears the key schedules */
  tally_wipe(scratch, sizeof scratch);
  if (!ok) napi_throw_error(env, NULL, "addMasks: OpenSSL AES-256-CTR failed mid-stream; the vector is partly masked");
  return NULL;
}

static napi_value add_vector(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_of(env, info, 3, argv, "addVector: expected (acc, x, sign)")) return NULL;
  uint32_t *acc, *x;
  size_t n, nx;
  if (!lanes_arg(env, argv[0], &acc, &n, "addVector acc")) return NULL;
  if (!lanes_arg(env, argv[1], &x, &nx, "addVector x")) return NULL;
  if (n != nx) return throw_range(env, "addVector x: expected as many lanes as acc");
  int32_t sign = 0;
  if (napi_get_value_int32(env, argv[2], &sign) != napi_ok || (sign != 1 && sign != -1)) return throw_range(env, "addVector sign: expected 1 or -1");
  /* acc and x may be the same memory (acc += acc): element-wise, no restrict needed. */
  if (sign == 1) for (size_t i = 0; i < n; i++) acc[i] += x[i];
  else for (size_t i = 0; i < n; i++) acc[i] -= x[i];
  return NULL;
}

/* The first `bytes` bytes of ctx's stream into out, or, with out NULL, into a stack scratch (dropped). */
static int stream(EVP_CIPHER_CTX *ctx, unsigned char *out, uint64_t bytes) {
  unsigned char scratch[CHUNK_BYTES] __attribute__((aligned(64)));
  int ok = 1;
  for (uint64_t off = 0; off < bytes && ok; off += CHUNK_BYTES) {
    size_t n = bytes - off < CHUNK_BYTES ? (size_t)(bytes - off) : CHUNK_BYTES;
    ok = next_chunk(ctx, out != NULL ? out + off : scratch, n);
  }
  return ok;
}

/* The first `bytes` bytes of PRG(key) into out, or with out NULL made and dropped, with
 * this instance's AES; 0 once it has thrown. */
static int key_stream(napi_env env, napi_value arg, unsigned char *out, uint64_t bytes, const char *fn) {
  unsigned char *key;
  size_t key_bytes;
  char what[64], msg[160];
  snprintf(what, sizeof what, "%s key", fn);
  if (!bytes_arg(env, arg, &key, &key_bytes, what)) return 0;
  if (key_bytes != 32) {
    snprintf(msg, sizeof msg, "%s: expected 32 bytes", what);
    throw_range(env, msg);
    return 0;
  }
  const enum aes_impl impl = impl_of(env);
  if (impl != AES_OPENSSL) {
    unsigned char rk[AES_SCHEDULE_BYTES] __attribute__((aligned(64)));
    aes256_schedule(key, rk);
    aes_keystream(impl, rk, out, bytes);
    tally_wipe(rk, sizeof rk);
    return 1;
  }
  EVP_CIPHER_CTX *ctx = new_ctr(key);
  if (ctx == NULL) {
    snprintf(msg, sizeof msg, "%s: OpenSSL could not set up AES-256-CTR", fn);
    napi_throw_error(env, NULL, msg);
    return 0;
  }
  int ok = stream(ctx, out, bytes);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) {
    snprintf(msg, sizeof msg, "%s: OpenSSL AES-256-CTR failed mid-stream", fn);
    napi_throw_error(env, NULL, msg);
  }
  return ok;
}

static napi_value keystream(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_of(env, info, 2, argv, "keystream: expected (key, out)")) return NULL;
  unsigned char *out;
  size_t bytes;
  if (!bytes_arg(env, argv[1], &out, &bytes, "keystream out")) return NULL;
  key_stream(env, argv[0], out, bytes, "keystream");
  return NULL;
}

static napi_value discard_keystream(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_of(env, info, 2, argv, "discardKeystream: expected (key, bytes)")) return NULL;
  int64_t bytes = -1;
  if (napi_get_value_int64(env, argv[1], &bytes) != napi_ok || bytes < 0 || bytes > ((int64_t)1 << 40)) return throw_range(env, "discardKeystream bytes: expected an integer in [0, 2^40]");
  key_stream(env, argv[0], NULL, (uint64_t)bytes, "discardKeystream");
  return NULL;
}

static napi_value round_stochastic_fn(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!args_of(env, info, 5, argv, "roundStochastic: expected (delta, factor, bound, coins, out)")) return NULL;
  napi_typedarray_type type;
  void *d = NULL, *c = NULL, *o = NULL;
  size_t n = 0, nc = 0, no = 0;
  if (!typed(env, argv[0], &type, &d, &n) || type != napi_float32_array) return throw_type(env, "roundStochastic delta: expected a Float32Array");
  double factor = 0, bound = 0;
  if (napi_get_value_double(env, argv[1], &factor) != napi_ok || !isfinite(factor)) return throw_range(env, "roundStochastic factor: expected a finite number");
  if (napi_get_value_double(env, argv[2], &bound) != napi_ok || !(bound >= 0 && bound < 2147483647.0)) return throw_range(env, "roundStochastic bound: expected a number in [0, 2^31 - 1)");
  if (!typed(env, argv[3], &type, &c, &nc) || type != napi_uint32_array) return throw_type(env, "roundStochastic coins: expected a Uint32Array");
  if (!typed(env, argv[4], &type, &o, &no) || type != napi_uint32_array) return throw_type(env, "roundStochastic out: expected a Uint32Array");
  if (nc != n || no != n) return throw_range(env, "roundStochastic: expected delta, coins and out of the same length");
  round_stochastic((const float *)d, factor, bound, (const uint32_t *)c, (uint32_t *)o, n / 4);
  return NULL;
}

/* HMAC-SHA-256 of the concatenation a || b || c (c may be NULL), into out[32]; 0 on failure. */
static int hmac_sha256(const unsigned char *key, size_t key_len, const unsigned char *a, size_t a_len, const unsigned char *b, size_t b_len,
                       const unsigned char *c, size_t c_len, unsigned char out[32]) {
  unsigned char stack[512];
  const size_t n = a_len + b_len + c_len;
  unsigned char *msg = n <= sizeof stack ? stack : malloc(n);
  if (msg == NULL) return 0;
  if (a_len > 0) memcpy(msg, a, a_len);
  if (b_len > 0) memcpy(msg + a_len, b, b_len);
  if (c_len > 0) memcpy(msg + a_len + b_len, c, c_len);
  size_t out_len = 0;
  const int ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, msg, n, out, 32, &out_len) != NULL && out_len == 32;
  tally_wipe(msg, n);
  if (msg != stack) free(msg);
  return ok;
}

static napi_value hkdf_sha256(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!args_of(env, info, 4, argv, "hkdfSha256: expected (ikm, salt, info, out)")) return NULL;
  unsigned char *ikm, *salt, *inf, *out;
  size_t ikm_len, salt_len, info_len, out_len;
  if (!bytes_arg(env, argv[0], &ikm, &ikm_len, "hkdfSha256 ikm")) return NULL;
  if (!bytes_arg(env, argv[1], &salt, &salt_len, "hkdfSha256 salt")) return NULL;
  if (!bytes_arg(env, argv[2], &inf, &info_len, "hkdfSha256 info")) return NULL;
  if (!bytes_arg(env, argv[3], &out, &out_len, "hkdfSha256 out")) return NULL;
  if (out_len > 255 * 32) return throw_range(env, "hkdfSha256 out: expected at most 255 * 32 bytes");
  /* RFC 5869 2.2: an empty salt is HashLen zeros, which HMAC pads to the same key. */
  unsigned char prk[32], t[32];
  int ok = hmac_sha256(salt, salt_len, ikm, ikm_len, NULL, 0, NULL, 0, prk);
  size_t done = 0;
  for (unsigned i = 1; ok && done < out_len; i++) {
    const unsigned char counter = (unsigned char)i;
    ok = hmac_sha256(prk, sizeof prk, t, i == 1 ? 0 : sizeof t, inf, info_len, &counter, 1, t); /* T(i) = HMAC(PRK, T(i-1) || info || i) */
    const size_t n = out_len - done < sizeof t ? out_len - done : sizeof t;
    if (ok) memcpy(out + done, t, n);
    done += n;
  }
  tally_wipe(prk, sizeof prk);
  tally_wipe(t, sizeof t);
  if (!ok) napi_throw_error(env, NULL, "hkdfSha256: OpenSSL HMAC-SHA-256 failed");
  return NULL;
}

static napi_value shamir_eval_fn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_of(env, info, 3, argv, "shamirEval: expected (coeffs, xs, out)")) return NULL;
  unsigned char *coeffs, *out;
  size_t coeff_bytes, out_bytes, x_bytes = 0;
  if (!bytes_arg(env, argv[0], &coeffs, &coeff_bytes, "shamirEval coeffs")) return NULL;
  napi_typedarray_type type;
  void *xd = NULL;
  if (!typed(env, argv[1], &type, &xd, &x_bytes) || type != napi_uint32_array) return throw_type(env, "shamirEval xs: expected a Uint32Array");
  if (!bytes_arg(env, argv[2], &out, &out_bytes, "shamirEval out")) return NULL;
  if (coeff_bytes == 0 || coeff_bytes % SHAMIR_ELEMENT_BYTES != 0) return throw_range(env, "shamirEval coeffs: expected a non-empty multiple of 33 bytes");
  const size_t t = coeff_bytes / SHAMIR_ELEMENT_BYTES, n = x_bytes / 4;
  if (out_bytes != SHAMIR_ELEMENT_BYTES * n) return throw_range(env, "shamirEval out: expected 33 bytes per x");
  for (size_t k = 0; k < t; k++) {
    if (!shamir_is_element(coeffs + SHAMIR_ELEMENT_BYTES * k)) return throw_range(env, "shamirEval coeffs: expected every coefficient below p = 2^256 + 297");
  }
  const uint32_t *xs = (const uint32_t *)xd;
  for (size_t j = 0; j < n; j++) {
    if (xs[j] == 0) return throw_range(env, "shamirEval xs: expected no 0 (f(0) is the secret)");
  }
  if (!shamir_eval(coeffs, t, xs, n, out)) napi_throw_error(env, NULL, "shamirEval: out of memory for the coefficients");
  return NULL;
}

#if TALLY_ED25519
static napi_value ed25519_verify_fn(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!args_of(env, info, 3, argv, "ed25519Verify: expected (sig, msg, publicKey)")) return NULL;
  unsigned char *sig, *msg, *pub;
  size_t sig_len, msg_len, pub_len;
  if (!bytes_arg(env, argv[0], &sig, &sig_len, "ed25519Verify sig")) return NULL;
  if (!bytes_arg(env, argv[1], &msg, &msg_len, "ed25519Verify msg")) return NULL;
  if (!bytes_arg(env, argv[2], &pub, &pub_len, "ed25519Verify publicKey")) return NULL;
  if (sig_len != 64) return throw_range(env, "ed25519Verify sig: expected 64 bytes");
  if (pub_len != 32) return throw_range(env, "ed25519Verify publicKey: expected 32 bytes");
  struct instance *st = NULL;
  if (napi_get_instance_data(env, (void **)&st) != napi_ok || st == NULL) return NULL;
  if (st->keys == NULL) st->keys = ed25519_cache_new(); /* NULL (out of memory): verify without */
  const int ok = ed25519_verify(sig, msg, msg_len, pub, st->keys);
  if (ok < 0) {
    napi_throw_error(env, NULL, "ed25519Verify: OpenSSL SHA-512 failed");
    return NULL;
  }
  napi_value result;
  return napi_get_boolean(env, ok == 1, &result) == napi_ok ? result : NULL;
}

static napi_value ed25519_sc_reduce_fn(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!args_of(env, info, 2, argv, "_ed25519ScReduce: expected (input, out)")) return NULL;
  unsigned char *in, *out;
  size_t in_len, out_len;
  if (!bytes_arg(env, argv[0], &in, &in_len, "_ed25519ScReduce input")) return NULL;
  if (!bytes_arg(env, argv[1], &out, &out_len, "_ed25519ScReduce out")) return NULL;
  if (in_len != 64 || out_len != 32) return throw_range(env, "_ed25519ScReduce: expected 64 bytes in, 32 out");
  ed25519_sc_reduce(out, in);
  return NULL;
}
#endif

static napi_value string_of(napi_env env, const char *s) {
  napi_value v;
  return napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v) == napi_ok ? v : NULL;
}

static napi_value aes_implementations(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value list;
  if (napi_create_array(env, &list) != napi_ok) return NULL;
  uint32_t n = 0;
  for (int i = 0; i < AES_IMPLS; i++) {
    if (!aes_supported((enum aes_impl)i)) continue;
    napi_value name = string_of(env, AES_NAMES[i]);
    if (name == NULL || napi_set_element(env, list, n++, name) != napi_ok) return NULL;
  }
  return list;
}

static napi_value aes_in_use(napi_env env, napi_callback_info info) {
  (void)info;
  return string_of(env, AES_NAMES[impl_of(env)]);
}

static napi_value use_aes(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args_of(env, info, 1, argv, "useAes: expected (name: string)")) return NULL;
  char name[32] = "", msg[200], have[64] = "";
  size_t len = 0;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) return throw_type(env, "useAes: expected (name: string)");
  for (int i = 0; i < AES_IMPLS; i++) {
    if (!aes_supported((enum aes_impl)i)) continue;
    if (strcmp(name, AES_NAMES[i]) == 0) {
      struct instance *st = NULL;
      if (napi_get_instance_data(env, (void **)&st) != napi_ok || st == NULL) return NULL;
      st->aes = (enum aes_impl)i;
      return NULL;
    }
    if (have[0] != '\0') strncat(have, ", ", sizeof have - strlen(have) - 1);
    strncat(have, AES_NAMES[i], sizeof have - strlen(have) - 1);
  }
  snprintf(msg, sizeof msg, "useAes: expected one of %s (what this CPU runs), got \"%s\"", have, name);
  return throw_range(env, msg);
}

NAPI_MODULE_INIT() {
  struct instance *st = malloc(sizeof *st);
  if (st == NULL) return NULL;
  st->aes = AES_OPENSSL;
#if TALLY_ED25519
  st->keys = NULL;
#endif
  for (int i = 0; i < AES_IMPLS; i++) {
    if (aes_supported((enum aes_impl)i)) { st->aes = (enum aes_impl)i; break; }
  }
  if (napi_set_instance_data(env, st, free_instance, NULL) != napi_ok) {
    free(st);
    return NULL;
  }
  const struct { const char *name; napi_callback fn; } fns[] = {
    { "addMasks", add_masks },
    { "addVector", add_vector },
    { "keystream", keystream },
    { "discardKeystream", discard_keystream },
    { "roundStochastic", round_stochastic_fn },
    { "hkdfSha256", hkdf_sha256 },
    { "shamirEval", shamir_eval_fn },
#if TALLY_ED25519
    { "ed25519Verify", ed25519_verify_fn },
    { "_ed25519ScReduce", ed25519_sc_reduce_fn },
#endif
    { "aesImplementations", aes_implementations },
    { "aes", aes_in_use },
    { "useAes", use_aes },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
