/** Small byte helpers shared by the primitives. Internal to the package. */

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Big-endian uint32, used to frame integers (ids, rounds) inside KDF inputs and AAD. */
export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new RangeError(`expected an integer in [0, 2^32), got ${n}`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n, false);
  return out;
}

/** Length-prefixed encoding so that concatenated fields cannot be re-split ambiguously. */
export function lp(b: Uint8Array): Uint8Array {
  return concatBytes(u32be(b.length), b);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(h: string): Uint8Array {
  if (h.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(h)) throw new TypeError(`expected hex string, got ${JSON.stringify(h.slice(0, 16))}`);
  return new Uint8Array(Buffer.from(h, 'hex'));
}

export function assertBytes(value: unknown, len: number | undefined, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${what}: expected Uint8Array, got ${typeof value}`);
  if (len !== undefined && value.length !== len) throw new RangeError(`${what}: expected ${len} bytes, got ${value.length}`);
}
