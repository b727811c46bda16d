/** Enrolled test identities: fresh Ed25519 pairs; identity i is client id i + 1, named shop-(i + 1). */
import { generateIdentity, toHex, type KeyPair } from '@tally/secagg';

export function identities(n: number): KeyPair[] {
  return Array.from({ length: n }, () => generateIdentity());
}

/** The enrolment file's JSON for `ids` (the shape `parseEnrolment` reads). */
export function enrolmentJson(ids: readonly KeyPair[]): { clients: { id: number; name: string; publicKey: string }[] } {
  return { clients: ids.map((k, i) => ({ id: i + 1, name: `shop-${i + 1}`, publicKey: toHex(k.publicKey) })) };
}
