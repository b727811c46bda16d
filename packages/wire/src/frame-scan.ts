/**
 * A structural pass over a frame before msgpackr builds anything from it.
 *
 * msgpackr dispatches every extension type through one process-wide table
 * (unpack.js `currentExtensions`) and has no option to turn it off: records
 * (ext 0x72), Set, Error, RegExp, BigInt, typed arrays, Date (ext -1) and the
 * structured-clone ids and pointers would all be built from hostile bytes. So
 * this scan walks the MessagePack structure (spec: github.com/msgpack/msgpack
 * spec.md, "Formats") without allocating and refuses, before decoding:
 * - every extension format (fixext 1/2/4/8/16, ext 8/16/32) and the never-used
 *   byte 0xc1 (msgpackr reads it as a bundled-strings marker);
 * - nesting deeper than `maxDepth` (msgpackr recurses once per level);
 * - more than `maxNodes` values (keys count as values): a frame of n bytes can
 *   otherwise become about n objects;
 * - truncation and trailing bytes (a frame is exactly one value).
 * It also reports the envelope's `type` when the top-level map has a string
 * under the key "type", so that the caller can bound the frame by its type
 * before decoding (see frame-budget.ts). Nothing else is interpreted.
 */

import { ProtocolError, ProtocolErrorCode } from './errors.ts';

/** Deepest nesting a valid envelope needs is 4 (envelope, body, list, entry); 8 leaves room for additive fields. */
export const MAX_FRAME_DEPTH = 8;

export interface FrameShape {
  /** Values in the frame, map keys included. */
  readonly nodes: number;
  /** The envelope's `type` string, when the top-level value is a map holding one. */
  readonly type: string | undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A short string at `pos` (envelope keys and the type), or '' for a long one or a non-string. */
function textAt(bytes: Uint8Array, pos: number, len: number): string {
  return len >= 0 && len <= 64 ? utf8.decode(bytes.subarray(pos, pos + len)) : '';
}

const malformed = (why: string): ProtocolError => new ProtocolError(ProtocolErrorCode.Malformed, why);

/**
 * The frame's shape, or a ProtocolError: WIRE_MALFORMED for an extension, 0xc1,
 * truncation, trailing bytes or nesting deeper than `maxDepth`; WIRE_TOO_LARGE
 * for more than `maxNodes` values. Never throws; allocates only the type string.
 */
export function scanFrame(bytes: Uint8Array, maxDepth: number, maxNodes: number): FrameShape | ProtocolError {
  const n = bytes.length;
  /** Values still to read in each open container (2 per map entry). */
  const left: number[] = [];
  let rootIsMap = false;
  let pos = 0;
  let nodes = 0;
  let wantType = false;
  let type: string | undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  do {
    if (pos >= n) return malformed(`expected one MessagePack value, got a frame truncated at byte ${pos}`);
    const atTop = left.length === 1 && rootIsMap;
    const isKey = atTop && left[0]! % 2 === 0;
    const isValue = atTop && !isKey;
    if (++nodes > maxNodes) {
      return new ProtocolError(ProtocolErrorCode.TooLarge, `expected at most ${maxNodes} values in this frame, got more`);
    }
    const b = bytes[pos++]!;
    let count = -1; // container entries (map: pairs), or -1 for a scalar
    let isMap = false;
    let strLen = -1;
    let skip = 0;
    if (b <= 0x7f || b >= 0xe0) {
      // positive/negative fixint
    } else if (b <= 0x8f) {
      count = b & 0x0f;
      isMap = true;
    } else if (b <= 0x9f) {
      count = b & 0x0f;
    } else if (b <= 0xbf) {
      strLen = b & 0x1f;
    } else {
      switch (b) {
        case 0xc0:
        case 0xc2:
        case 0xc3:
          break;
        case 0xc4:
        case 0xd9:
          if (pos + 1 > n) return malformed('expected a length byte, got the end of the frame');
          skip = bytes[pos++]!;
          if (b === 0xd9) strLen = skip;
          break;
        case 0xc5:
        case 0xda:
          if (pos + 2 > n) return malformed('expected a 16-bit length, got the end of the frame');
          skip = view.getUint16(pos);
          pos += 2;
          if (b === 0xda) strLen = skip;
          break;
        case 0xc6:
        case 0xdb:
          if (pos + 4 > n) return malformed('expected a 32-bit length, got the end of the frame');
          skip = view.getUint32(pos);
          pos += 4;
          if (b === 0xdb) strLen = skip;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xca:
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcb:
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xdc:
        case 0xde:
          if (pos + 2 > n) return malformed('expected a 16-bit count, got the end of the frame');
          count = view.getUint16(pos);
          pos += 2;
          isMap = b === 0xde;
          break;
        case 0xdd:
        case 0xdf:
          if (pos + 4 > n) return malformed('expected a 32-bit count, got the end of the frame');
          count = view.getUint32(pos);
          pos += 4;
          isMap = b === 0xdf;
          break;
        default: {
          // 0xc1 (never used) and 0xc7-0xc9, 0xd4-0xd8 (ext and fixext): no extension is part of the protocol.
          const what = b === 0xc1 ? 'the never-used byte 0xc1' : `an extension (format 0x${b.toString(16)}${pos < n ? `, type ${(bytes[pos]! << 24) >> 24}` : ''})`;
          return malformed(`expected plain MessagePack (no extension types), got ${what} at byte ${pos - 1}`);
        }
      }
    }
    if (strLen >= 0) skip = strLen;
    if (pos + skip > n) return malformed(`expected ${skip} more bytes at byte ${pos}, got ${n - pos}`);
    if (isKey) {
      wantType = textAt(bytes, pos, strLen) === 'type';
    } else if (isValue) {
      if (wantType && strLen >= 0 && type === undefined) type = textAt(bytes, pos, strLen);
      wantType = false;
    }
    pos += skip;
    if (left.length > 0) left[left.length - 1]!--;
    if (count > 0) {
      if (left.length === 0) rootIsMap = isMap;
      left.push(isMap ? 2 * count : count);
      if (left.length > maxDepth) return malformed(`expected nesting at most ${maxDepth} deep, got deeper at byte ${pos}`);
    }
    while (left.length > 0 && left[left.length - 1] === 0) left.pop();
  } while (left.length > 0);
  if (pos !== n) return malformed(`expected one MessagePack value, got ${n - pos} trailing bytes`);
  return { nodes, type };
}
