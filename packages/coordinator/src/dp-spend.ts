/**
 * The coordinator's account of a DP task's privacy spend, for its audit log and console.
 * Each shop enforces its own budget with its own accountant (client dp-consent.ts);
 * this is the operator's view, from the same public plan.
 *
 * A round is charged once its sum is unmasked (after that the coordinator has seen it,
 * whether or not the round commits). Two figures per round, both at the task's δ:
 * - for t shops' noise (the threshold the noise is sized for: what every shop's own
 *   accountant charges, and the guarantee if only t of the survivors were honest);
 * - for the actual survivors' noise (each survivor adds its share, so S ≥ t shops give
 *   more noise and a smaller ε, if all S are honest).
 * Cumulative figures compose the rounds in RDP (Mironov 2017, Prop. 1), from the audit
 * log on a restart.
 */
import { DP_ORDERS, composeRdp, ddgRdpCurve, dpRound, epsilonFromRdp, type DpPlan } from '@tally/secagg';
import type { AuditDp, AuditRecord } from './audit-log.ts';

export class DpSpend {
  readonly #plan: DpPlan;
  readonly #delta: number;
  readonly #curveT: Float64Array;
  #atT: Float64Array = new Float64Array(DP_ORDERS.length);
  #atSurvivors: Float64Array = new Float64Array(DP_ORDERS.length);
  #rounds = 0;
  readonly #bySurvivors = new Map<number, Float64Array>();

  /** `records`: the audit log so far (rounds charged before a restart carry `dp`). */
  constructor(plan: DpPlan, delta: number, records: readonly AuditRecord[] = []) {
    this.#plan = plan;
    this.#delta = delta;
    this.#curveT = ddgRdpCurve(dpRound(plan));
    for (const r of records) {
      if (r.dp !== undefined) this.#add(r.dp.noisyShops);
    }
  }

  get rounds(): number {
    return this.#rounds;
  }

  /** ε spent so far at δ, for t shops' noise per round (what each shop is charged). */
  epsilon(): number {
    return this.#rounds === 0 ? 0 : epsilonFromRdp(DP_ORDERS, this.#atT, this.#delta).epsilon;
  }

  #curve(shops: number): Float64Array {
    let c = this.#bySurvivors.get(shops);
    if (c === undefined) {
      c = ddgRdpCurve(dpRound(this.#plan, shops));
      this.#bySurvivors.set(shops, c);
    }
    return c;
  }

  #add(survivors: number): void {
    this.#atT = composeRdp(this.#atT, this.#curveT);
    this.#atSurvivors = composeRdp(this.#atSurvivors, this.#curve(Math.max(survivors, 1)));
    this.#rounds++;
  }

  /** Charges one unmasked round with `survivors` inputs in its sum; returns its audit entry. */
  charge(survivors: number): AuditDp {
    this.#add(survivors);
    const eps = (rdp: ArrayLike<number>): number => epsilonFromRdp(DP_ORDERS, rdp, this.#delta).epsilon;
    return {
      delta: this.#delta,
      noiseMultiplier: this.#plan.noiseMultiplier,
      minSurvivors: this.#plan.minSurvivors,
      noisyShops: survivors,
      epsilonRound: eps(this.#curveT),
      epsilonRoundSurvivors: eps(this.#curve(Math.max(survivors, 1))),
      epsilon: eps(this.#atT),
      epsilonSurvivors: eps(this.#atSurvivors),
      roundsCharged: this.#rounds,
    };
  }
}
