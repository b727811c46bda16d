/**
 * One error type for everything that crosses the wire. Callers switch on `code`
 * (a stable string, like ws's `WS_ERR_*`), never on the message text, and close
 * the socket with `closeCode` when the error ends the connection.
 */

export const ProtocolErrorCode = {
  /** The frame is not MessagePack, or not an envelope map. */
  Malformed: 'WIRE_MALFORMED',
  /** The envelope's `v` is not PROTOCOL_VERSION. */
  UnsupportedVersion: 'WIRE_UNSUPPORTED_VERSION',
  /** The envelope's `type` is not a message this side accepts. */
  UnknownType: 'WIRE_UNKNOWN_TYPE',
  /** A field is missing, extra, of the wrong type, size or range. */
  BadField: 'WIRE_BAD_FIELD',
  /** A configured limit (WireLimits) was exceeded: array, vector, string or byte length. */
  TooLarge: 'WIRE_TOO_LARGE',
  /** A well-formed message arrived in a stage that does not expect it. */
  WrongStage: 'WIRE_WRONG_STAGE',
  /** A well-formed message names another session or round. */
  WrongRound: 'WIRE_WRONG_ROUND',
  /** A message names a client that is not in this round's cohort. */
  NotInCohort: 'WIRE_NOT_IN_COHORT',
  /** The challenge signature did not verify. */
  AuthFailed: 'WIRE_AUTH_FAILED',
  /** The identity key is not in the enrolment file. */
  NotEnrolled: 'WIRE_NOT_ENROLLED',
  /** Another live connection already holds this identity. */
  Duplicate: 'WIRE_DUPLICATE_CONNECTION',
  /** The peer's policy refuses the request. */
  PolicyRefused: 'WIRE_POLICY_REFUSED',
  /** A bug on the sending side; nothing the peer did. */
  Internal: 'WIRE_INTERNAL',
} as const;

export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/**
 * WebSocket close code for each error (RFC 6455 §7.4.1 for 1xxx; 4000-4999 are
 * reserved for applications, §7.4.2). The app codes exist so that a client's
 * reconnect logic can tell "fix your install" (4001), "you are not allowed"
 * (4005, 4006) and "try later" (4007) apart without parsing text:
 *
 * | code                          | close | why                                   |
 * |-------------------------------|-------|---------------------------------------|
 * | WIRE_MALFORMED                | 1002  | protocol error                        |
 * | WIRE_UNSUPPORTED_VERSION      | 4001  | app: upgrade needed, do not retry     |
 * | WIRE_UNKNOWN_TYPE             | 1003  | unsupported data                      |
 * | WIRE_BAD_FIELD                | 1002  | protocol error                        |
 * | WIRE_TOO_LARGE                | 1009  | message too big                       |
 * | WIRE_WRONG_STAGE              | 4002  | app: out-of-order message             |
 * | WIRE_WRONG_ROUND              | 4003  | app: stale or foreign round           |
 * | WIRE_NOT_IN_COHORT            | 4004  | app: not a member of this round       |
 * | WIRE_AUTH_FAILED              | 4005  | app: bad signature, do not retry      |
 * | WIRE_NOT_ENROLLED             | 4006  | app: unknown identity, do not retry   |
 * | WIRE_DUPLICATE_CONNECTION     | 4007  | app: identity already connected; back off |
 * | WIRE_POLICY_REFUSED           | 1008  | policy violation                      |
 * | WIRE_INTERNAL                 | 1011  | internal error                        |
 */
export const CLOSE_CODES: { readonly [C in ProtocolErrorCode]: number } = {
  WIRE_MALFORMED: 1002,
  WIRE_UNSUPPORTED_VERSION: 4001,
  WIRE_UNKNOWN_TYPE: 1003,
  WIRE_BAD_FIELD: 1002,
  WIRE_TOO_LARGE: 1009,
  WIRE_WRONG_STAGE: 4002,
  WIRE_WRONG_ROUND: 4003,
  WIRE_NOT_IN_COHORT: 4004,
  WIRE_AUTH_FAILED: 4005,
  WIRE_NOT_ENROLLED: 4006,
  WIRE_DUPLICATE_CONNECTION: 4007,
  WIRE_POLICY_REFUSED: 1008,
  WIRE_INTERNAL: 1011,
};

const CODES: ReadonlySet<string> = new Set(Object.values(ProtocolErrorCode));

export function isProtocolErrorCode(x: unknown): x is ProtocolErrorCode {
  return typeof x === 'string' && CODES.has(x);
}

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  readonly code: ProtocolErrorCode;
  /** The WebSocket close code to use if this error ends the connection. */
  readonly closeCode: number;
  /** Path of the offending field in the envelope, e.g. `body.adverts[3].sig`. */
  readonly field: string | undefined;

  /** `message` should say what was expected and what was found; a `field` is prefixed to it. */
  constructor(code: ProtocolErrorCode, message: string, field?: string, options?: { cause?: unknown }) {
    super(field === undefined ? message : `${field}: ${message}`, options);
    this.code = code;
    this.closeCode = CLOSE_CODES[code];
    this.field = field;
  }
}

export function isProtocolError(x: unknown): x is ProtocolError {
  return x instanceof ProtocolError;
}
