/**
 * Connection authentication as a pure machine, (state, message) -> state | error:
 *
 *   coordinator: Challenge{nonce}      (32 bytes from the CSPRNG, one per connection)
 *   client:      Hello{identityKey}    -> the key must be enrolled      else NotEnrolled
 *   client:      AuthResponse{sig}     -> Ed25519 over authTranscript(nonce, identityKey)
 *                                         must verify under that key   else AuthFailed
 *
 * Anything else before authentication is WrongStage. Every error ends the
 * connection (the caller sends the notice and closes with its close code). The
 * duplicate-connection check needs the live connections, so the caller makes it
 * once this machine says `done`.
 */
import { toHex, verifySignature } from '@tally/secagg';
import { ProtocolError, ProtocolErrorCode, authTranscript, type NodeClientMessage } from '@tally/wire';
import type { EnrolledClient, Enrolment } from './enrolment.ts';

export type AuthState =
  | { readonly stage: 'challenged'; readonly nonce: Uint8Array }
  | { readonly stage: 'hello'; readonly nonce: Uint8Array; readonly client: EnrolledClient }
  | { readonly stage: 'done'; readonly client: EnrolledClient };

export function authStep(state: AuthState, msg: NodeClientMessage, enrolment: Enrolment): AuthState | ProtocolError {
  switch (state.stage) {
    case 'challenged': {
      if (msg.type !== 'Hello') return new ProtocolError(ProtocolErrorCode.WrongStage, `expected Hello first, got ${msg.type}`);
      const client = enrolment.byKey(msg.identityKey);
      if (client === undefined) {
        return new ProtocolError(
          ProtocolErrorCode.NotEnrolled,
          `identity key ${toHex(msg.identityKey).slice(0, 16)}... is not enrolled with this coordinator; ask its operator to add your public key to the enrolment file`,
        );
      }
      return { stage: 'hello', nonce: state.nonce, client };
    }
    case 'hello': {
      if (msg.type !== 'AuthResponse') return new ProtocolError(ProtocolErrorCode.WrongStage, `expected AuthResponse after Hello, got ${msg.type}`);
      const transcript = authTranscript(state.nonce, state.client.publicKey);
      if (!verifySignature(msg.sig, transcript, state.client.publicKey)) {
        return new ProtocolError(ProtocolErrorCode.AuthFailed, 'the signature over the challenge does not verify under the enrolled identity key');
      }
      return { stage: 'done', client: state.client };
    }
    case 'done':
      return new ProtocolError(ProtocolErrorCode.WrongStage, `already authenticated; ${msg.type} is not an authentication message`);
  }
}
