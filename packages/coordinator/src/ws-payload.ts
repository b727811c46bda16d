/**
 * A per-socket frame limit. ws takes `maxPayload` once per server, but its
 * Receiver compares each frame header's length against its own `_maxPayload`
 * before buffering the payload (ws 8.18.3 lib/receiver.js, haveLength: 1009,
 * WS_ERR_UNSUPPORTED_MESSAGE_LENGTH). Lowering that field for one socket bounds
 * what ws buffers for it: an unauthenticated peer can make the coordinator hold
 * at most PRE_AUTH_BUDGET bytes, not the task's maxPayload (limits.maxPendingAuth
 * such peers at once).
 *
 * The field is internal to ws, whose version is pinned exactly in package.json;
 * test/limits.test.ts fails if a ws upgrade moves it. Where it is missing, this
 * returns null and only decode()'s own length check applies (after ws buffered
 * the frame).
 */
import type { WebSocket } from 'ws';

interface ReceiverLike {
  _maxPayload?: unknown;
}

/** Sets the socket's frame limit in bytes; returns the previous one, or null when ws has no such field. */
export function setSocketMaxPayload(ws: WebSocket, bytes: number): number | null {
  const receiver = (ws as unknown as { _receiver?: ReceiverLike | null })._receiver;
  if (receiver === null || receiver === undefined || typeof receiver._maxPayload !== 'number') return null;
  const previous = receiver._maxPayload;
  receiver._maxPayload = bytes;
  return previous;
}
