/**
 * The demand trainer of one shop: its own sales export, the task's declared model.
 * The declaration arrives with the task (TaskOffer.modelSpec), so the features are
 * built when the first offer comes and rebuilt only if the declaration changes:
 * `checkOffer` validates it against this shop (spec.ts) and refuses a mismatch
 * before any training; `train` runs TfjsTrainer on the shop's rows (every day with
 * full lags, products the shop does not sell left out); `saveModel` writes a
 * received global model in the TF.js layers format with the shop's normalisation.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainInput, TrainOutput, Trainer } from '@tally/client';
import { TfjsTrainer, saveModel, setFlatWeights, type OptimizerName } from '@tally/ml';
import { buildShopDataset, type ShopDataset, type Split } from './features.ts';
import { createDemandModel } from './model.ts';
import { saveNormalisation, type Normalisation } from './normalisation.ts';
import { SalesCsvError, type SalesIssue, type SalesTable } from './sales-csv.ts';
import { shopSales, type ShopSales } from './shop-sales.ts';
import { checkDemandOffer, demandInputs, specJson, type DemandSpec } from './spec.ts';

export const SPEC_FILE = 'spec.json';

export interface DemandTrainingOptions {
  /** Local epochs per round. Default 2. */
  readonly epochs: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly optimizer: OptimizerName;
  /** Seed of the batch order (not secret). */
  readonly seed: number;
}

export const DEMAND_TRAINING_DEFAULTS: DemandTrainingOptions = Object.freeze({ epochs: 2, batchSize: 64, learningRate: 0.002, optimizer: 'adam', seed: 11 });

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
}

export class DemandShopTrainer implements Trainer {
  readonly table: SalesTable;
  readonly options: DemandTrainingOptions;
  #prepared: Prepared | null = null;
  /** Reports issues (unknown products, gaps) once per declaration. */
  readonly #onIssues: (issues: readonly SalesIssue[], sales: ShopSales) => void;

  /** The column mapping, saved beside the model so `tally forecast` reads the same export. */
  readonly csv: Normalisation['csv'];

  constructor(table: SalesTable, csv: Normalisation['csv'], options: Partial<DemandTrainingOptions> = {}, onIssues: (issues: readonly SalesIssue[], sales: ShopSales) => void = () => {}) {
    this.table = table;
    this.csv = csv;
    this.options = { ...DEMAND_TRAINING_DEFAULTS, ...options };
    this.#onIssues = onIssues;
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
    const trainer = new TfjsTrainer({
      createModel: () => createDemandModel(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed }),
      data: rows,
      epochs: o.epochs,
      batchSize: o.batchSize,
      learningRate: o.learningRate,
      optimizer: o.optimizer,
      seed: o.seed,
    });
    this.#prepared?.trainer.dispose();
    this.#prepared = { json, spec, sales, dataset, trainer };
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
    return p.trainer.train(input);
  }

  /**
   * Writes `weights` to `dir` as a TF.js layers model (model.json + weights.bin), the
   * declaration (spec.json) and this shop's normalisation (normalisation.json).
   */
  async saveModel(dir: string, weights: Float32Array, info: SavedModelInfo): Promise<void> {
    const p = this.#prepared;
    if (p === null) throw new Error('no model declaration yet: a model can be saved once this shop has accepted an offer');
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
  }

  dispose(): void {
    this.#prepared?.trainer.dispose();
    this.#prepared = null;
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
function carriedRows(split: Split, carried: readonly boolean[], inputs: number): { x: Float32Array; y: Float32Array } {
  const keep: number[] = [];
  for (let r = 0; r < split.rows; r++) if (carried[split.product[r]!] === true) keep.push(r);
  const x = new Float32Array(keep.length * inputs);
  const y = new Float32Array(keep.length);
  keep.forEach((r, i) => {
    x.set(split.x.subarray(r * inputs, (r + 1) * inputs), i * inputs);
    y[i] = split.y[r]!;
  });
  return { x, y };
}
