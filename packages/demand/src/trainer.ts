/**
 * The demand trainer of one shop: its own sales export, the task's declared model.
 * The declaration arrives with the task (TaskOffer.modelSpec), so the features are
 * built when the first offer comes and rebuilt only if the declaration changes:
 * `checkOffer` validates it against this shop (spec.ts) and refuses a mismatch
 * before any training; `train` runs TfjsTrainer on the shop's rows (every day with
 * full lags, products the shop does not sell left out, the latest validation days
 * held out as in the simulation); `saveModel` writes a received global model in the
 * TF.js layers format with the shop's normalisation, and with the task's final model
 * also the shop's own choice (personal.ts: local-only, fine-tuned, global or a blend,
 * chosen on its validation days), which `tally forecast` then uses.
 *
 * When the task federates only the body (`"federated": "body"`, local-head.ts), the
 * vector that arrives and the update that leaves are the body alone: the shop joins
 * them with its own head, trains both on its sales, keeps the new head (in `headDir`,
 * across rounds and restarts) and returns the body's change only. Every model it saves
 * is the shared body with this shop's head.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainInput, TrainOutput, Trainer } from '@tally/client';
import { TfjsTrainer, saveModel, setFlatWeights, type LossName, type OptimizerName } from '@tally/ml';
import { buildShopDataset, type ShopDataset, type Split } from './features.ts';
import { PERSONAL_DIR, personaliseShop, removePersonalChoice, selectSplit, splitByDate, writePersonalChoice, type PersonalChoice } from './personal.ts';
import { createDemandModel } from './model.ts';
import { saveNormalisation, type Normalisation } from './normalisation.ts';
import { SalesCsvError, type SalesIssue, type SalesTable } from './sales-csv.ts';
import { shopSales, type ShopSales } from './shop-sales.ts';
import { bodyOf, headOf, joinBodyHead, loadHead, saveHead } from './local-head.ts';
import { checkDemandOffer, demandFederatedCount, demandInputs, specJson, type DemandSpec } from './spec.ts';

export const SPEC_FILE = 'spec.json';

export interface DemandTrainingOptions {
  /** Local epochs per round. Default 2. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: OptimizerName;
  /** 'mae' (default): absolute error, whose minimiser is the median that WAPE rewards; the simulation's loss. */
  readonly loss: LossName;
  /** Seed of the batch order (not secret). */
  readonly seed: number;
  /** Latest training days held out to choose the shop's own model (a quarter of a young shop's days, at least 7). Default 28. */
  readonly validationDays: number;
  /** Where the shop keeps its own head when a task federates only the body (local-head.ts); absent: in memory only. */
  readonly headDir?: string;
}

export const DEMAND_TRAINING_DEFAULTS: DemandTrainingOptions = Object.freeze({
  epochs: 2,
  batchSize: 64,
  learningRate: 0.002,
  optimizer: 'adam',
  loss: 'mae',
  seed: 11,
  validationDays: 28,
});

/** What a TaskOffer says about the model (the node passes it before training). */
export interface OfferedModel {
  readonly taskId: string;
  readonly modelSpec?: string;
  readonly modelLength: number;
}

/** Metadata saved with a received model. */
export interface SavedModelInfo {
  readonly taskId: string;
  readonly round: number;
  readonly final: boolean;
}

interface Prepared {
  readonly json: string;
  readonly spec: DemandSpec;
  readonly sales: ShopSales;
  readonly dataset: ShopDataset;
  readonly trainer: TfjsTrainer;
  /** Fit and validation rows; null when the shop has too few days to hold any out (it trains on all and keeps the global model). */
  readonly split: { readonly fit: Split; readonly validation: Split; readonly validationDays: number } | null;
}

export class DemandShopTrainer implements Trainer {
  readonly table: SalesTable;
  readonly options: DemandTrainingOptions;
  #prepared: Prepared | null = null;
  /** The shop's own head and the task and declaration it belongs to (federated "body" only). */
  #head: { readonly taskId: string; readonly json: string; head: Float32Array } | null = null;
  /** Reports issues (unknown products, gaps) once per declaration. */
  readonly #onIssues: (issues: readonly SalesIssue[], sales: ShopSales) => void;

  /** Told the shop's own choice after the task's final model (or why there is none). */
  readonly #onPersonal: (choice: PersonalChoice | null, why: string) => void;

  /** The column mapping, saved beside the model so `tally forecast` reads the same export. */
  readonly csv: Normalisation['csv'];

  constructor(
    table: SalesTable,
    csv: Normalisation['csv'],
    options: Partial<DemandTrainingOptions> = {},
    onIssues: (issues: readonly SalesIssue[], sales: ShopSales) => void = () => {},
    onPersonal: (choice: PersonalChoice | null, why: string) => void = () => {},
  ) {
    this.table = table;
    this.csv = csv;
    this.options = { ...DEMAND_TRAINING_DEFAULTS, ...options };
    this.#onIssues = onIssues;
    this.#onPersonal = onPersonal;
  }

  /** Null when this shop can train the offered model; otherwise why not and which side to change. */
  checkOffer(offer: OfferedModel): string | null {
    const checked = checkDemandOffer(offer.modelSpec, offer.modelLength, offer.taskId);
    if ('refusal' in checked) return checked.refusal;
    const json = specJson(checked.spec);
    if (this.#prepared?.json === json) return null;
    try {
      this.#prepare(checked.spec, json);
    } catch (err) {
      if (err instanceof SalesCsvError || err instanceof RangeError) return `this shop's sales cannot train task ${offer.taskId}'s model: ${err.message}`;
      throw err;
    }
    return null;
  }

  #prepare(spec: DemandSpec, json: string): void {
    const sales = shopSales(this.table, spec);
    this.#onIssues(sales.issues, sales);
    const dataset = buildShopDataset(sales.data, 0, { testDays: 0 });
    const rows = carriedRows(dataset.train, sales.carried, dataset.inputs);
    const o = this.options;
    const days = rows.rows === 0 ? 0 : (rows.day[rows.rows - 1] as number) - (rows.day[0] as number) + 1;
    // Hold out the latest days to choose the shop's own model on, as the simulation does; a shop with under 8 training days cannot.
    const split = days >= 8 ? splitByDate(rows, dataset.inputs, o.validationDays) : null;
    const trainer = new TfjsTrainer({
      createModel: () => createDemandModel(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed }),
      data: split?.fit ?? rows,
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      optimizer: o.optimizer,
      loss: o.loss,
      seed: o.seed,
    });
    this.#prepared?.trainer.dispose();
    this.#prepared = { json, spec, sales, dataset, trainer, split };
  }

  /** Rows this shop trains on (after checkOffer), or 0. */
  get rows(): number {
    return this.#prepared?.trainer.rows ?? 0;
  }

  get spec(): DemandSpec | null {
    return this.#prepared?.spec ?? null;
  }

  async train(input: TrainInput): Promise<TrainOutput> {
    const p = this.#prepared;
    if (p === null) throw new Error('the demand trainer has no model declaration yet (checkOffer was not called)');
    if (p.spec.federated !== 'body') return p.trainer.train(input);
    // Body federated: train body ‖ own head, keep the head's change here, send the body's.
    const own = await this.#headFor(input.taskId, p);
    const out = await p.trainer.train({ ...input, weights: joinBodyHead(p.spec, input.weights, own.head) });
    const trained = headOf(p.spec, out.delta).map((d, i) => (own.head[i] as number) + d);
    if (this.options.headDir !== undefined) await saveHead(this.options.headDir, input.taskId, p.spec, trained);
    own.head = trained;
    return { ...out, delta: bodyOf(p.spec, out.delta) };
  }

  /** The shop's head for this task: in memory, else from headDir, else the task's initial head. */
  async #headFor(taskId: string, p: Prepared): Promise<{ head: Float32Array }> {
    if (this.#head?.taskId === taskId && this.#head.json === p.json) return this.#head;
    const { head } = await loadHead(this.options.headDir ?? null, taskId, p.spec);
    this.#head = { taskId, json: p.json, head };
    return this.#head;
  }

  /** The full model a shop uses: the received weights, joined with its own head when only the body is federated. */
  async #fullModel(p: Prepared, weights: Float32Array, taskId: string): Promise<Float32Array> {
    if (p.spec.federated !== 'body') return weights;
    if (weights.length !== demandFederatedCount(p.spec)) throw new RangeError(`task ${taskId} sent ${weights.length} weights; its body has ${demandFederatedCount(p.spec)}`);
    return joinBodyHead(p.spec, weights, (await this.#headFor(taskId, p)).head);
  }

  /**
   * Writes `weights` (with this shop's head when only the body is federated) to `dir` as a TF.js layers model (model.json + weights.bin), the
   * declaration (spec.json) and this shop's normalisation (normalisation.json).
   */
  async saveModel(dir: string, received: Float32Array, info: SavedModelInfo): Promise<void> {
    const p = this.#prepared;
    if (p === null) throw new Error('no model declaration yet: a model can be saved once this shop has accepted an offer');
    const weights = await this.#fullModel(p, received, info.taskId);
    // A choice made with an earlier global model no longer belongs to this one.
    await removePersonalChoice(dir);
    await writeDemandModel(dir, p.spec, weights, info);
    await saveNormalisation(dir, {
      source: this.table.source,
      firstDate: p.sales.firstDate,
      lastDate: p.sales.lastDate,
      products: p.spec.products,
      scale: Array.from(p.dataset.scale),
      refPrice: Array.from(p.dataset.refPrice),
      carried: [...p.sales.carried],
      csv: this.csv,
    });
    if (info.final) await this.#personalise(dir, p, weights, info);
  }

  /** After the task's final model: the shop's own model, chosen on its validation days (personal.ts). */
  async #personalise(dir: string, p: Prepared, global: Float32Array, info: SavedModelInfo): Promise<void> {
    if (p.split === null || p.split.fit.rows === 0 || p.split.validation.rows === 0) {
      this.#onPersonal(null, 'too few days of sales to hold any out for validation: forecasts use the shared model');
      return;
    }
    const o = this.options;
    const r = await personaliseShop({
      spec: p.spec,
      fit: p.split.fit,
      validation: p.split.validation,
      validationDays: p.split.validationDays,
      scale: p.dataset.scale,
      global,
      taskId: info.taskId,
      round: info.round,
      training: { batchSize: o.batchSize, learningRate: o.learningRate, optimizer: o.optimizer, loss: o.loss, seed: o.seed },
    });
    await writeDemandModel(join(dir, PERSONAL_DIR, 'local'), p.spec, r.local, info);
    await writeDemandModel(join(dir, PERSONAL_DIR, 'finetuned'), p.spec, r.finetuned, info);
    await writePersonalChoice(dir, r.choice);
    this.#onPersonal(r.choice, describeChoice(r.choice));
  }

  dispose(): void {
    this.#prepared?.trainer.dispose();
    this.#prepared = null;
    this.#head = null;
  }
}

/** Writes a demand model (weights of `spec`'s architecture) as model.json + weights.bin + spec.json. */
export async function writeDemandModel(dir: string, spec: DemandSpec, weights: Float32Array, info: SavedModelInfo): Promise<void> {
  await mkdir(dir, { recursive: true });
  const model = createDemandModel(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed });
  try {
    setFlatWeights(model, weights);
    model.setUserDefinedMetadata({ tally: { ...info, spec: JSON.parse(specJson(spec)) as unknown } });
    await saveModel(model, dir);
  } finally {
    model.dispose();
  }
  await writeFile(join(dir, SPEC_FILE), `${specJson(spec)}\n`);
}

/** The rows of products the shop carries. */
function carriedRows(split: Split, carried: readonly boolean[], inputs: number): Split {
  return selectSplit(split, inputs, (r) => carried[split.product[r]!] === true);
}

/** One line for a shop owner: which forecast `tally forecast` will use and why. */
export function describeChoice(c: PersonalChoice): string {
  const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
  const name = { global: 'the shared model', finetuned: 'the shared model fine-tuned on your sales', local: 'a model trained on your sales alone' } as const;
  const used =
    c.final === 'blend'
      ? `a blend: ${c.weightOnLocal} × ${name.local} + ${1 - c.weightOnLocal} × ${name[c.shared]}`
      : name[c.final];
  return (
    `your own model: ${used}; chosen on your last ${c.validationDays} days of sales (WAPE there ${pct(c.validation.used)}; ` +
    `shared ${pct(c.validation.global)}, fine-tuned ${pct(c.validation.finetuned)}, your sales alone ${pct(c.validation.local)})`
  );
}
