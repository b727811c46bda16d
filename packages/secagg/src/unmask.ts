/**
 * Removing the masks from the sum (Bonawitz et al. 2017, round 4, server side):
 *   z = Σ_{u∈U3} y_u − Σ_{u∈U3} PRG(b_u) ∓ Σ_{u∈U2\U3, v∈U3∩N(u)} PRG(s_uv)
 * The plan lists the reconstructed secrets; expanding them into keystreams is the
 * heavy part (O(#masks × model)) and can run here or split over worker threads
 * (see unmask-pool.ts). Both give the same ring element exactly.
 */
import { KdfLabel, deriveKey, type RoundContext } from './hkdf.ts';
import { x25519Shared } from './keys.ts';
import { MaskAccumulator, addMask } from './prg.ts';
import { pairInfo, pairSign } from './transcript.ts';
import type { ClientId } from './messages.ts';

export interface UnmaskPlan {
  readonly ctx: RoundContext;
  /** Σ y_u over the survivors: still masked. */
  readonly masked: Uint32Array;
  /** Reconstructed self-mask seeds b_u of the survivors. */
  readonly selfSeeds: readonly { readonly owner: ClientId; readonly seed: Uint8Array }[];
  /** Reconstructed mask secret keys of clients that dropped after sharing, with the survivor peers that masked with them. */
  readonly droppedKeys: readonly {
    readonly owner: ClientId;
    readonly secretKey: Uint8Array;
    readonly peers: readonly { readonly id: ClientId; readonly sPk: Uint8Array }[];
  }[];
}

/** One mask to remove: either a self mask or one pairwise mask. Plain data, so it can cross a worker boundary. */
export type MaskJob =
  | { readonly kind: 'self'; readonly seed: Uint8Array }
  | { readonly kind: 'pair'; readonly secretKey: Uint8Array; readonly peerPk: Uint8Array; readonly owner: ClientId; readonly peer: ClientId };

export function maskJobs(plan: UnmaskPlan): MaskJob[] {
  const jobs: MaskJob[] = plan.selfSeeds.map((s) => ({ kind: 'self', seed: s.seed }));
  for (const d of plan.droppedKeys) {
    for (const p of d.peers) jobs.push({ kind: 'pair', secretKey: d.secretKey, peerPk: p.sPk, owner: d.owner, peer: p.id });
  }
  return jobs;
}

/** The key of one job's mask and the sign that removes it. */
export function maskRemoval(ctx: RoundContext, job: MaskJob): { readonly key: Uint8Array; readonly sign: 1 | -1 } {
  if (job.kind === 'self') return { key: deriveKey(job.seed, KdfLabel.SelfMask, ctx), sign: -1 };
  // The surviving peer v added pairSign(v, u)·PRG(s_uv); take it back out.
  const shared = x25519Shared(job.secretKey, job.peerPk);
  const key = deriveKey(shared, KdfLabel.PairwiseMask, ctx, pairInfo(job.owner, job.peer));
  return { key, sign: pairSign(job.peer, job.owner) === 1 ? -1 : 1 };
}

/** Subtract one job's mask from `acc` in place. For many jobs over one vector, `removeMasks` is faster. */
export function removeMask(acc: Uint32Array, ctx: RoundContext, job: MaskJob): void {
  const { key, sign } = maskRemoval(ctx, job);
  addMask(acc, key, sign);
}

/** Subtract every job's mask from `initial` (a vector, or a length for zeros); returns a new vector. */
export function removeMasks(initial: Uint32Array | number, ctx: RoundContext, jobs: readonly MaskJob[]): Uint32Array<ArrayBuffer> {
  const acc = new MaskAccumulator(initial);
  try {
    acc.addAll(jobs.map((job) => maskRemoval(ctx, job))); // chunk-major: see MaskAccumulator.addAll
    return acc.result();
  } finally {
    acc.dispose();
  }
}

/** Unmask on this thread. Returns a new vector: Σ x_u over the survivors, mod 2^32. */
export function unmask(plan: UnmaskPlan): Uint32Array {
  return removeMasks(plan.masked, plan.ctx, maskJobs(plan));
}
