/**
 * `prepareShops`: everything a run needs, from one config: the synthetic data, each
 * shop's rows (features built from that shop's data only, as a shop would; rows.ts), the model
 * factory, the round-0 weights and one `TfjsTrainer` per shop. The in-process FedAvg
 * loop (federated.ts) and `tally simulate` (one client node per shop) both start here.
 */
import { TfjsTrainer, countWeights, initBackend, type BackendChoice, type LayersModel, type MlLogger } from '@tally/ml';
import { resolveConfig, type DemandConfig, type DemandConfigInput } from './config.ts';
import { generateSales, type SalesData } from './data.ts';
import { createDemandModel, initialWeights } from '@tally/demand';
import { mixSeed } from './rng.ts';
import { prepareShop, type PreparedShop } from './rows.ts';

export interface PreparedShops {
  readonly config: DemandConfig;
  readonly backend: BackendChoice;
  readonly data: SalesData;
  /** Each shop's rows: training (fit + validation) and test, the rows it would forecast only (rows.ts). */
  readonly shops: readonly PreparedShop[];
  /** Model inputs (feature columns). */
  readonly inputs: number;
  /** Length of the flat weight vector. */
  readonly weightCount: number;
  readonly createModel: () => LayersModel;
  /** The round-0 global model. */
  readonly initialWeights: Float32Array;
  /** One trainer per shop on its fit rows (validation days held out), in shop order, with the federated round settings. */
  readonly trainers: readonly TfjsTrainer[];
  /** Frees the trainers' tensors. */
  dispose(): void;
}

export interface PrepareOptions {
  readonly logger?: MlLogger;
  /** Use this data instead of generating it from `config.data` (tests that alter the test weeks). */
  readonly data?: SalesData;
}

export async function prepareShops(input: DemandConfigInput = {}, options: PrepareOptions = {}): Promise<PreparedShops> {
  const config = resolveConfig(input);
  const backend = await initBackend({ prefer: config.backend, ...(options.logger ? { logger: options.logger } : {}) });
  const data = options.data ?? generateSales(config.data);
  const shops = data.shops.map((_, i) => prepareShop(data, i, config.features, config.training.validationDays));
  const inputs = shops[0]?.inputs ?? 0;
  const createModel = (): LayersModel => createDemandModel(inputs, config.model);
  const t = config.training;
  const trainers: TfjsTrainer[] = [];
  try {
    for (const shop of shops) {
      trainers.push(
        new TfjsTrainer({
          createModel,
          data: shop.fit,
          epochs: t.epochsPerRound,
          loss: t.loss,
          batchSize: t.batchSize,
          learningRate: t.learningRate,
          optimizer: t.optimizer,
          proximalMu: t.proximalMu,
          seed: mixSeed(t.seed, shop.shopIndex),
        }),
      );
    }
  } catch (err) {
    for (const tr of trainers) tr.dispose();
    throw err;
  }
  const first = trainers[0];
  const weightCount = first?.weightCount ?? countWeightsOf(createModel);
  return {
    config,
    backend,
    data,
    shops,
    inputs,
    weightCount,
    createModel,
    initialWeights: initialWeights(inputs, config.model),
    trainers,
    dispose: () => {
      for (const tr of trainers) tr.dispose();
    },
  };
}

function countWeightsOf(createModel: () => LayersModel): number {
  const m = createModel();
  try {
    return countWeights(m);
  } finally {
    m.dispose();
  }
}
