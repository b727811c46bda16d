/**
 * Personalisation: every shop ends with its own model derived from the shared one,
 * chosen on its own validation window only.
 *
 * 1. Fine-tune: the shop trains a copy of the global model on its own fit rows, with
 *    the same loss, optimiser and learning rate as every other arm, stopped on its
 *    validation WAPE (baselines.ts: the global model itself is epoch 0, so fine-tuning
 *    can only be kept when it helps on validation).
 * 2. Choose: among the global model, the fine-tuned one and the shop's local-only model,
 *    the one with the lowest WAPE on the shop's validation rows (ties: the earlier in
 *    CANDIDATES): `choice` and `weights`.
 * 3. Blend (blend.ts `personalBlend`): the shop's forecast is a · local + (1 − a) · shared,
 *    where shared is the better of global and fine-tuned on validation; a starts at ½
 *    and moves to another weight of BLEND_GRID (1 = local alone … 0 = shared alone) only
 *    when that is better on validation by more than BLEND_MARGIN; and if the result is
 *    still worse than local alone on validation, the shop uses local: `mix` and `final`.
 *    Why not simply the best of the three on validation (step 2): on 7–28 validation
 *    days the WAPE difference of two models has a standard deviation of about 2 points
 *    (choice-study.ts), so the best on validation is often a model that wins there by a
 *    hair and loses on the test weeks; the equal-weight blend moves only half-way from
 *    the shop's own model and errs less when the two err differently.
 *
 * Only validation rows decide; the test weeks are never looked at. By construction the
 * final forecast's validation WAPE is at most the local-only model's: a shop never does
 * worse than alone *on the data it can see*. Whether that carries over to the test weeks
 * is what the report measures (validation windows are short for young shops, so a
 * choice can be wrong).
 *
 * In a deployment this runs on the shop after the final round (the client node has the
 * global model and its own rows); `tally simulate` runs it in-process for every shop.
 */
import type { PreparedShops } from './prepare.ts';
import { fitWithStopping, validationWape, type BaselineResult, type EarlyStopping } from './baselines.ts';
import { personalBlend, unitsForecast } from '@tally/demand';

export const CANDIDATES = ['global', 'finetuned', 'local'] as const;
export type Candidate = (typeof CANDIDATES)[number];

/** One model of a shop's forecast and its share (the shares sum to 1). */
export interface MixPart {
  readonly model: Candidate;
  readonly weights: Float32Array;
  readonly share: number;
}

/** What the shop forecasts with: one of the three models, or a blend of local and a shared one. */
export type FinalChoice = Candidate | 'blend';

export interface ShopChoice {
  readonly shopId: string;
  /** The best single model on validation (step 2). */
  readonly choice: Candidate;
  /** The best single model's weights. */
  readonly weights: Float32Array;
  /** The shop's forecast (step 3): Σ share · forecast(part); one part unless a blend. */
  readonly mix: readonly MixPart[];
  readonly final: FinalChoice;
  /** The blend: the shared model (the better of global and fine-tuned on validation), the weight on local, the blend's validation WAPE. */
  readonly blend: { readonly shared: 'global' | 'finetuned'; readonly weight: number; readonly validationWape: number };
  /** The fine-tuned model's weights and the epochs fine-tuning kept (0: none helped). */
  readonly finetuned: Float32Array;
  readonly finetuneEpochs: number;
  /** Validation WAPE of each candidate. */
  readonly validation: Readonly<Record<Candidate, number>>;
}

export interface PersonaliseOptions {
  readonly earlyStopping?: Partial<EarlyStopping>;
  readonly onShop?: (choice: ShopChoice) => void;
}

/**
 * Fine-tunes `global` for every shop and picks each shop's model; `local` are the local-only runs, in shop order.
 * `global` may be one model per shop (the arm "body + local head": the shared body with each shop's own head).
 */
export async function personalise(
  prepared: PreparedShops,
  globals: Float32Array | readonly Float32Array[],
  local: readonly BaselineResult[],
  options: PersonaliseOptions = {},
): Promise<ShopChoice[]> {
  if (local.length !== prepared.shops.length) throw new RangeError(`personalise: expected ${prepared.shops.length} local models, got ${local.length}`);
  const es = { ...prepared.config.baselines, ...options.earlyStopping };
  const scratch = prepared.createModel();
  const out: ShopChoice[] = [];
  try {
    for (const [i, shop] of prepared.shops.entries()) {
      const trainer = prepared.trainers[i];
      const own = local[i];
      const global = globals instanceof Float32Array ? globals : globals[i];
      if (trainer === undefined || own === undefined || global === undefined) throw new Error(`personalise: no trainer, local or shared model for shop ${i}`);
      const score = (w: Float32Array): number => validationWape(scratch, [shop], () => w);
      // Round label 0x9e5 only seeds the batch order, apart from the federated rounds'.
      const ft = await fitWithStopping(trainer, global, score, es, 0x9e5);
      const validation: Record<Candidate, number> = { global: score(global), finetuned: ft.validationWape, local: score(own.weights) };
      const weights: Record<Candidate, Float32Array> = { global, finetuned: ft.weights, local: own.weights };
      const choice = chooseModel(validation);
      const shared = validation.finetuned <= validation.global ? 'finetuned' : 'global';
      const v = shop.validation;
      const b = personalBlend(v.units, unitsForecast(scratch, weights.local, v, shop.scale, shop.inputs), unitsForecast(scratch, weights[shared], v, shop.scale, shop.inputs));
      const mix: MixPart[] =
        b.weight === 1
          ? [{ model: 'local', weights: weights.local, share: 1 }]
          : b.weight === 0
            ? [{ model: shared, weights: weights[shared], share: 1 }]
            : [
                { model: 'local', weights: weights.local, share: b.weight },
                { model: shared, weights: weights[shared], share: 1 - b.weight },
              ];
      const final: FinalChoice = mix.length === 2 ? 'blend' : mix[0]!.model;
      const c: ShopChoice = {
        shopId: shop.shopId,
        choice,
        weights: weights[choice],
        mix,
        final,
        blend: { shared, weight: b.weight, validationWape: b.wape },
        finetuned: ft.weights,
        finetuneEpochs: ft.epochs,
        validation,
      };
      out.push(c);
      options.onShop?.(c);
    }
  } finally {
    scratch.dispose();
  }
  return out;
}

/** The candidate with the lowest validation WAPE (NaN never wins; ties go to the earlier candidate). */
export function chooseModel(validation: Readonly<Record<Candidate, number>>): Candidate {
  let best: Candidate = 'local';
  let bestValue = Number.POSITIVE_INFINITY;
  for (const c of CANDIDATES) {
    const v = validation[c];
    if (Number.isFinite(v) && v < bestValue) {
      best = c;
      bestValue = v;
    }
  }
  return best;
}

