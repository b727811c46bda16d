/**
 * Bounds on what a parsed message may hold. Every bound has a default; a message
 * beyond one is refused with WIRE_TOO_LARGE before anything is allocated for it.
 * The WebSocket layer's `maxPayload` bounds the frame itself and should be sized
 * from the model (about 4 bytes a lane plus a few KiB of envelope).
 */
export interface WireLimits {
  /** Entries in any id list (roster, neighbours, adverts, shares, survivors, signatures) and TaskOffer.cohortSize. Default 1000. */
  readonly maxCohort: number;
  /** Lanes in a vector (MaskedInput.y, TaskOffer.model) and RoundStart.vectorLength. Default 2^24 (64 MiB of u32). */
  readonly maxVectorLength: number;
  /** UTF-16 code units in free-text strings (versions, reasons, error messages). Default 1024. */
  readonly maxStringLength: number;
  /** Bytes in one encrypted share (EncryptedShare.ct). Default 1024. */
  readonly maxCiphertextBytes: number;
  /** Bytes in one revealed Shamir share (RevealedShare.share). Default 256. */
  readonly maxShareBytes: number;
  /** Entries in RoundResult.metrics and QuantParams.metricCount. Default 64. */
  readonly maxMetrics: number;
  /** When set, MaskedInput.y must have exactly this many lanes (the round's vectorLength). */
  readonly expectedVectorLength?: number;
  /** When set, TaskOffer.model must have exactly this many weights. */
  readonly expectedModelLength?: number;
  /**
   * The caller hands each frame over to the parser and never reads it again (the client
   * node and the coordinator's connections, whose frames come fresh from the socket):
   * vectors are then views into the frame, moved down in place by up to 3 bytes onto
   * their own MessagePack header for 4-byte alignment, instead of copies. Default false:
   * vectors are copied and the frame is left untouched.
   */
  readonly frameOwned?: boolean;
}

export const DEFAULT_LIMITS: WireLimits = Object.freeze({
  maxCohort: 1000,
  maxVectorLength: 2 ** 24,
  maxStringLength: 1024,
  maxCiphertextBytes: 1024,
  maxShareBytes: 256,
  maxMetrics: 64,
});

const MAX_KEYS = ['maxCohort', 'maxVectorLength', 'maxStringLength', 'maxCiphertextBytes', 'maxShareBytes', 'maxMetrics'] as const;
const EXPECTED_KEYS = ['expectedVectorLength', 'expectedModelLength'] as const;

/**
 * DEFAULT_LIMITS overridden by the caller's defined entries. A limit that is not
 * a non-negative safe integer is a caller bug and throws RangeError: a NaN limit
 * would otherwise compare false and silently disable the check.
 */
export function resolveLimits(limits: Partial<WireLimits> | undefined): WireLimits {
  if (limits === undefined) return DEFAULT_LIMITS;
  const out: { -readonly [K in keyof WireLimits]: WireLimits[K] } = { ...DEFAULT_LIMITS };
  for (const k of [...MAX_KEYS, ...EXPECTED_KEYS]) {
    const v = limits[k];
    if (v === undefined) continue;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`limits.${k}: expected a non-negative safe integer, got ${v}`);
    out[k] = v;
  }
  if (limits.frameOwned !== undefined) {
    if (typeof limits.frameOwned !== 'boolean') throw new RangeError(`limits.frameOwned: expected a boolean, got ${String(limits.frameOwned)}`);
    out.frameOwned = limits.frameOwned;
  }
  return out;
}
