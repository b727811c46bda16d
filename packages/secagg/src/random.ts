import { randomFillSync } from 'node:crypto';

/**
 * Source of cryptographic randomness: fills `n` fresh bytes. Injected so tests can
 * drive the machines deterministically; the default is the OS CSPRNG. A seeded
 * source is for tests only: never for masks or keys in production.
 */
export type RandomSource = (n: number) => Uint8Array;

export const osRandom: RandomSource = (n) => {
  const out = new Uint8Array(n);
  // randomFillSync takes at most 2^31-1 bytes per call; our uses are far smaller.
  randomFillSync(out);
  return out;
};
