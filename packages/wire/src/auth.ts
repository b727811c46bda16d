/**
 * What a client signs to prove it holds an enrolled identity key: the coordinator's
 * fresh nonce, bound to the client's public key and to this protocol, so a
 * signature cannot be replayed on another connection or read as any other message.
 */
import { concatBytes, lp, utf8 } from '@tally/secagg';
import { PROTOCOL_VERSION } from './messages.ts';

export function authTranscript(nonce: Uint8Array, identityKey: Uint8Array): Uint8Array {
  return concatBytes(utf8(`tally/v${PROTOCOL_VERSION}/auth`), lp(nonce), lp(identityKey));
}
