/**
 * What a demand model is, declared by the task and checked by every shop before it
 * trains: kind, architecture, feature-spec version, product list, holiday calendar.
 * Two parties that disagree on any of these would add up weights that mean different
 * things (a product's one-hot column, a holiday flag), so a mismatch is refused up
 * front, before training, with a message that says which side to change.
 *
 * No TensorFlow.js here: the CLI validates a coordinator config and a client config
 * with this module alone, and loads the model code only when it trains.
 *
 *   "model": {
 *     "kind": "demand",
 *     "featureVersion": 1,                 optional; must equal FEATURE_SPEC_VERSION
 *     "hidden": [32, 16],                  optional, default [32, 16]: the MLP's hidden layer widths
 *     "seed": 7,                           optional, default 7: the initial weights (not secret)
 *     "products": ["bread", "milk", ...],  required: the catalogue, in the model's column order
 *     "holidays": ["01-01", "2025-04-21"], optional, default DEFAULT_HOLIDAYS: "MM-DD" yearly or "YYYY-MM-DD" once
 *     "federated": "body"                  optional, default "all": which layers travel through secure aggregation
 *   }
 *
 * `"federated": "body"` shares every layer but the output layer (the body); each shop
 * keeps its own output layer (the head), starts it from the declared seed and trains it
 * with the body on its own sales: a shared representation with a personal last layer
 * (FedPer: Arivazhagan et al. 2019, "Federated Learning with Personalization Layers",
 * arXiv:1912.00818). The task's model vector is then the body alone (local-head.ts).
 */
import { DEFAULT_HOLIDAYS, isHolidayEntry } from './calendar.ts';
import { BASE_FEATURES } from './feature-layout.ts';

/** The sales export's column and format types, here too so that configs can name them without loading TF.js. */
export type { DateFormat, Delimiter, SalesColumns } from './sales-csv.ts';

export const DEMAND_MODEL_KIND = 'demand';
/**
 * Version of the feature table of features.ts. Bump it whenever a column changes
 * meaning: models and shops of different versions must not be mixed.
 */
export const FEATURE_SPEC_VERSION = 1;
/** Bounds that keep a declaration (and the model it implies) small enough for the wire. */
export const SPEC_LIMITS = Object.freeze({ maxProducts: 1000, maxHidden: 4, maxWidth: 1024, maxProductName: 100, maxHolidays: 1000 });

export interface DemandSpec {
  readonly kind: typeof DEMAND_MODEL_KIND;
  readonly featureVersion: number;
  readonly hidden: readonly number[];
  readonly seed: number;
  readonly products: readonly string[];
  readonly holidays: readonly string[];
  /** "all" (default) or "body": see the header. */
  readonly federated: FederatedPart;
}

/** Which layers are federated: all of them, or all but the output layer (each shop keeps its own). */
export const FEDERATED_PARTS = ['all', 'body'] as const;
export type FederatedPart = (typeof FEDERATED_PARTS)[number];

export const DEFAULT_HIDDEN: readonly number[] = Object.freeze([32, 16]);
export const DEFAULT_SEED = 7;

/** A declaration that is not a demand model spec; `field` is the path of the bad part. */
export class SpecError extends Error {
  override readonly name = 'SpecError';
  readonly field: string;
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}

const KEYS = ['kind', 'featureVersion', 'hidden', 'seed', 'products', 'holidays', 'federated'];

/** Validates a declaration; `field` is its path in the file (`task.model`). Throws SpecError. */
export function parseDemandSpec(u: unknown, field = 'task.model'): DemandSpec {
  if (typeof u !== 'object' || u === null || Array.isArray(u)) throw new SpecError(field, `expected an object, got ${JSON.stringify(u) ?? 'nothing'}`);
  const o = u as Record<string, unknown>;
  if (o['kind'] !== DEMAND_MODEL_KIND) throw new SpecError(`${field}.kind`, `expected "${DEMAND_MODEL_KIND}", got ${JSON.stringify(o['kind']) ?? 'nothing'}`);
  for (const k of Object.keys(o)) {
    if (!KEYS.includes(k)) throw new SpecError(`${field}.${k}`, `unknown field; expected one of ${KEYS.join(', ')}`);
  }
  const featureVersion = o['featureVersion'] ?? FEATURE_SPEC_VERSION;
  if (featureVersion !== FEATURE_SPEC_VERSION) {
    throw new SpecError(
      `${field}.featureVersion`,
      `this tally builds demand features of version ${FEATURE_SPEC_VERSION}, the declaration says ${JSON.stringify(featureVersion)}: run the same tally version on the coordinator and every shop`,
    );
  }
  const hidden = o['hidden'] ?? DEFAULT_HIDDEN;
  if (!Array.isArray(hidden) || hidden.length > SPEC_LIMITS.maxHidden || !hidden.every((w) => Number.isInteger(w) && w >= 1 && w <= SPEC_LIMITS.maxWidth)) {
    throw new SpecError(`${field}.hidden`, `expected up to ${SPEC_LIMITS.maxHidden} layer widths, integers in [1, ${SPEC_LIMITS.maxWidth}], got ${JSON.stringify(hidden)}`);
  }
  const seed = o['seed'] ?? DEFAULT_SEED;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new SpecError(`${field}.seed`, `expected an integer, got ${JSON.stringify(seed)}`);
  const products = o['products'];
  if (!Array.isArray(products) || products.length < 1 || products.length > SPEC_LIMITS.maxProducts) {
    throw new SpecError(`${field}.products`, `expected a list of 1 to ${SPEC_LIMITS.maxProducts} product names, got ${JSON.stringify(products) ?? 'nothing'}`);
  }
  const seen = new Set<string>();
  products.forEach((p, i) => {
    if (typeof p !== 'string' || p.trim() === '' || p !== p.trim() || p.length > SPEC_LIMITS.maxProductName) {
      throw new SpecError(`${field}.products[${i}]`, `expected a product name (1-${SPEC_LIMITS.maxProductName} characters, no outer spaces), got ${JSON.stringify(p)}`);
    }
    if (seen.has(p)) throw new SpecError(`${field}.products[${i}]`, `${JSON.stringify(p)} is listed twice`);
    seen.add(p);
  });
  const holidays = o['holidays'] ?? DEFAULT_HOLIDAYS;
  if (!Array.isArray(holidays) || holidays.length > SPEC_LIMITS.maxHolidays) {
    throw new SpecError(`${field}.holidays`, `expected a list of up to ${SPEC_LIMITS.maxHolidays} dates, got ${JSON.stringify(holidays)}`);
  }
  holidays.forEach((h, i) => {
    if (typeof h !== 'string' || !isHolidayEntry(h)) throw new SpecError(`${field}.holidays[${i}]`, `expected "MM-DD" (every year) or "YYYY-MM-DD" (once), got ${JSON.stringify(h)}`);
  });
  const federated = o['federated'] ?? 'all';
  if (!(FEDERATED_PARTS as readonly unknown[]).includes(federated)) {
    throw new SpecError(`${field}.federated`, `expected "all" (every layer shared) or "body" (all but the output layer; each shop keeps its own), got ${JSON.stringify(federated)}`);
  }
  if (federated === 'body' && hidden.length === 0) {
    throw new SpecError(`${field}.federated`, `"body" shares all but the output layer, but hidden is [] (the output layer is the whole model): declare at least one hidden layer, or federate "all"`);
  }
  return {
    kind: DEMAND_MODEL_KIND,
    featureVersion: FEATURE_SPEC_VERSION,
    hidden: [...hidden] as number[],
    seed,
    products: [...products] as string[],
    holidays: [...new Set(holidays as string[])].sort(),
    federated: federated as FederatedPart,
  };
}

/**
 * The declaration as it travels (TaskOffer.modelSpec) and is stored (spec.json): JSON
 * with a fixed key order. `federated` is written only when it is "body", so a task that
 * federates every layer sends the same text as before the field existed.
 */
export function specJson(spec: DemandSpec): string {
  const { kind, featureVersion, hidden, seed, products, holidays } = spec;
  return JSON.stringify({ kind, featureVersion, hidden, seed, products, holidays, ...(spec.federated === 'body' ? { federated: 'body' } : {}) });
}

/** Model inputs: the feature columns of features.ts for this product list. */
export function demandInputs(spec: Pick<DemandSpec, 'products'>): number {
  return BASE_FEATURES + spec.products.length;
}

/** Length of the flat weight vector: Σ over dense layers of (in + 1) · out, the last layer 1 wide. */
export function demandWeightCount(spec: Pick<DemandSpec, 'products' | 'hidden'>): number {
  let n = 0;
  let inWidth = demandInputs(spec);
  for (const w of [...spec.hidden, 1]) {
    n += (inWidth + 1) * w;
    inWidth = w;
  }
  return n;
}

/** Weights of the output layer: (last hidden width, or the inputs) + 1 bias. Last in the flat vector (flattenWeights: layer by layer). */
export function demandHeadCount(spec: Pick<DemandSpec, 'products' | 'hidden'>): number {
  const last = spec.hidden.length === 0 ? demandInputs(spec) : (spec.hidden[spec.hidden.length - 1] as number);
  return last + 1;
}

/** Length of the vector that travels through secure aggregation: the whole model, or the body alone when `federated` is "body". */
export function demandFederatedCount(spec: Pick<DemandSpec, 'products' | 'hidden' | 'federated'>): number {
  const all = demandWeightCount(spec);
  return spec.federated === 'body' ? all - demandHeadCount(spec) : all;
}

/**
 * Whether a task's declaration (TaskOffer.modelSpec, JSON text or absent) and its
 * model length fit this shop's demand trainer. Null when they do; otherwise the
 * reason, naming the side to change.
 */
export function checkDemandOffer(modelSpec: string | undefined, modelLength: number, taskId: string): { spec: DemandSpec } | { refusal: string } {
  if (modelSpec === undefined) {
    return {
      refusal: `task ${taskId} declares no model, but this shop's trainer is "demand": the coordinator's operator must declare task.model ({"kind": "demand", "products": [...]}), or this shop must use the task's trainer kind`,
    };
  }
  let u: unknown;
  try {
    u = JSON.parse(modelSpec);
  } catch {
    return { refusal: `task ${taskId} sent a model declaration that is not JSON: the coordinator's tally is broken or foreign; upgrade it` };
  }
  const kind = (u as { kind?: unknown } | null)?.kind;
  if (kind !== DEMAND_MODEL_KIND) {
    return { refusal: `task ${taskId} trains a ${JSON.stringify(kind)} model, but this shop's trainer is "demand": set trainer.kind in this shop's config to the task's kind, or join a demand task` };
  }
  let spec: DemandSpec;
  try {
    spec = parseDemandSpec(u, 'model');
  } catch (err) {
    const m = (err as Error).message;
    const side = m.includes('featureVersion') ? '' : ': the coordinator\'s operator must fix task.model';
    return { refusal: `task ${taskId}'s model declaration is not one this shop can train (${m})${side}` };
  }
  const expected = demandFederatedCount(spec);
  if (modelLength !== expected) {
    return {
      refusal: `task ${taskId} sends ${modelLength} weights, but its declared demand model (${spec.products.length} products, hidden ${JSON.stringify(spec.hidden)}${spec.federated === 'body' ? ', body federated' : ''}) has ${expected}: the coordinator's operator must set task.modelLength to ${expected}`,
    };
  }
  return { spec };
}
