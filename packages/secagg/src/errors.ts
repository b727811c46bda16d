/**
 * One error type for the whole protocol core. Callers switch on `code`, never on
 * the message text. Codes are stable strings (like ws's `WS_ERR_*`).
 */
export const SecAggErrorCode = {
  /** A message arrived for a stage the machine is not in (or after it finished). */
  InvalidTransition: 'SECAGG_INVALID_TRANSITION',
  /** A message's session id or round number is not the machine's. */
  WrongRound: 'SECAGG_WRONG_ROUND',
  /** A message is structurally wrong (size, range, unknown id, duplicate). */
  BadMessage: 'SECAGG_BAD_MESSAGE',
  /** A signature did not verify against the enrolled identity key. */
  BadSignature: 'SECAGG_BAD_SIGNATURE',
  /** An encrypted share failed authentication (wrong key, AAD or tampered). */
  DecryptFailed: 'SECAGG_DECRYPT_FAILED',
  /** Too few participants remain for the threshold: the round aborts. */
  BelowThreshold: 'SECAGG_BELOW_THRESHOLD',
  /** The server asked for something that would break privacy (e.g. both shares of a peer). */
  PrivacyViolation: 'SECAGG_PRIVACY_VIOLATION',
  /** The coordinator's graph is not the one the client recomputes from public data (graph-seed.ts). */
  BadGraph: 'SECAGG_BAD_GRAPH',
  /** Two views of the survivor set disagree (consistency check failed). */
  Inconsistent: 'SECAGG_INCONSISTENT',
  /** Shamir reconstruction refused its input (duplicate/out-of-range index, too few shares). */
  BadShares: 'SECAGG_BAD_SHARES',
  /** A configuration breaks safety or does not fit the ring. */
  BadConfig: 'SECAGG_BAD_CONFIG',
} as const;

export type SecAggErrorCode = (typeof SecAggErrorCode)[keyof typeof SecAggErrorCode];

export class SecAggError extends Error {
  override readonly name = 'SecAggError';
  readonly code: SecAggErrorCode;
  constructor(code: SecAggErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export function fail(code: SecAggErrorCode, message: string): never {
  throw new SecAggError(code, message);
}
