/*
 * Tally's native mask kernel: the mask PRG of @tally/secagg (AES-256-CTR under a
 * 32-byte key with an all-zero initial counter block, read as little-endian uint32
 * lanes) expanded straight into the caller's vector, with OpenSSL from the Node
 * binary that loads this addon (AES-NI where the CPU has it).
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
 *   discardKeystream(key, n)    makes n bytes of PRG(key) into the scratch and drops them
 *                               (the benchmarks' AES floor for this kernel)
 * vec, acc, x: typed arrays of 4-byte-aligned memory, a multiple of 4 bytes long;
 * keys, key, out: Uint8Array; signs: Int8Array of +1 / -1.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define CHUNK_BYTES 16384
#define MAX_KEYS 4096

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
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 3) return throw_type(env, "addMasks: expected (vec, keys, signs)");
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
  memset(scratch, 0, sizeof scratch);
  __asm__ __volatile__("" : : "r"(scratch) : "memory"); /* keep the wipe */
  if (!ok) napi_throw_error(env, NULL, "addMasks: OpenSSL AES-256-CTR failed mid-stream; the vector is partly masked");
  return NULL;
}

static napi_value add_vector(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 3) return throw_type(env, "addVector: expected (acc, x, sign)");
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

/* A 32-byte key argument as an AES-256-CTR context; NULL once it has thrown. */
static EVP_CIPHER_CTX *key_ctx(napi_env env, napi_value arg, const char *fn) {
  unsigned char *key;
  size_t key_bytes;
  char what[64], msg[160];
  snprintf(what, sizeof what, "%s key", fn);
  if (!bytes_arg(env, arg, &key, &key_bytes, what)) return NULL;
  if (key_bytes != 32) {
    snprintf(msg, sizeof msg, "%s: expected 32 bytes", what);
    throw_range(env, msg);
    return NULL;
  }
  EVP_CIPHER_CTX *ctx = new_ctr(key);
  if (ctx == NULL) {
    snprintf(msg, sizeof msg, "%s: OpenSSL could not set up AES-256-CTR", fn);
    napi_throw_error(env, NULL, msg);
  }
  return ctx;
}

static napi_value keystream(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 2) return throw_type(env, "keystream: expected (key, out)");
  unsigned char *out;
  size_t bytes;
  if (!bytes_arg(env, argv[1], &out, &bytes, "keystream out")) return NULL;
  EVP_CIPHER_CTX *ctx = key_ctx(env, argv[0], "keystream");
  if (ctx == NULL) return NULL;
  int ok = stream(ctx, out, bytes);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) napi_throw_error(env, NULL, "keystream: OpenSSL AES-256-CTR failed mid-stream");
  return NULL;
}

static napi_value discard_keystream(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 2) return throw_type(env, "discardKeystream: expected (key, bytes)");
  int64_t bytes = -1;
  if (napi_get_value_int64(env, argv[1], &bytes) != napi_ok || bytes < 0 || bytes > ((int64_t)1 << 40)) return throw_range(env, "discardKeystream bytes: expected an integer in [0, 2^40]");
  EVP_CIPHER_CTX *ctx = key_ctx(env, argv[0], "discardKeystream");
  if (ctx == NULL) return NULL;
  int ok = stream(ctx, NULL, (uint64_t)bytes);
  EVP_CIPHER_CTX_free(ctx);
  if (!ok) napi_throw_error(env, NULL, "discardKeystream: OpenSSL AES-256-CTR failed mid-stream");
  return NULL;
}

NAPI_MODULE_INIT() {
  const struct { const char *name; napi_callback fn; } fns[] = {
    { "addMasks", add_masks },
    { "addVector", add_vector },
    { "keystream", keystream },
    { "discardKeystream", discard_keystream },
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return NULL;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return NULL;
  }
  return exports;
}
