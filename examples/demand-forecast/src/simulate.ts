/**
 * `simulate`: the whole demand-forecast experiment with the federated model trained
 * the real way. One process runs:
 *
 * - a real coordinator (`startCoordinator`, 127.0.0.1 port 0), its checkpoints and
 *   audit log in a fresh folder under `workDir`, its enrolment built here from fresh
 *   Ed25519 identities (one per shop);
 * - one real client node per shop (`startClientNode`) whose Trainer is that shop's
 *   TfjsTrainer, over loopback WebSockets;
 * - secure aggregation in its default active-adversary mode (signed adverts and the
 *   consistency check), FedAvg weighted by the masked sample count;
 * - optionally, dropouts: each round attempt, each shop independently leaves at
 *   `dropoutStage` with probability `dropout`. The node is closed as that stage opens
 *   (the coordinator's report of the stage before it) and a new node with the same
 *   identity is started once the attempt is over, so it is back for the next one.
 *   A round commits while its survivors keep ≥ t neighbours; otherwise it aborts and
 *   the coordinator retries it with fresh keys.
 *
 * Every committed round is checked against plaintext (secure-check.ts): the shops'
 * updates are recorded in this process and the committed model must equal
 * global + Σw·δ/Σw over the round's survivors, within the quantisation bound.
 *
 * Then the local-only and centralised baselines, the evaluation (evaluate.ts), the
 * targets (targets.ts) and, when `out` is given, the report (report.ts) plus a copy
 * of the audit log.
 *
 * Cost: everything shares one event loop. Training yields every 20 ms (TfjsTrainer),
 * so sockets and timers keep running; deadlines and heartbeats are generous anyway
 * (SIMULATION_DEADLINES) because a slow machine must not turn into dropped clients.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { silentLogger as silentClientLogger, startClientNode, type ClientNode, type Logger as ClientLogger, type Policy } from '@tally/client';
import {
  AUDIT_FILE,
  ConfigError,
  DEFAULT_CORRUPT_FRACTION,
  GRAPH_KINDS,
  chooseRoundShape,
  dpPlanOf,
  parseCoordinatorConfig,
  parseEnrolment,
  readAuditLog,
  silentLogger as silentCoordinatorLogger,
  startCoordinator,
  type AuditDp,
  type AuditRecord,
  type Coordinator,
  type CoordinatorConfig,
  type CoordinatorEvent,
  type GraphKind,
  type Logger as CoordinatorLogger,
} from '@tally/coordinator';
import { TRAINER_METRICS, silentMlLogger, type LayersModel, type MlLogger } from '@tally/ml';
import { SecAggError, generateIdentity, toHex, type KeyPair } from '@tally/secagg';
import { runArms } from './arms.ts';
import { validationWape } from './baselines.ts';
import type { DemandConfigInput } from './config.ts';
import { METHODS, evaluateAll, type EvaluationReport, type Method } from './evaluate.ts';
import type { ShopChoice } from './personalise.ts';
import { TASK_ID, pooledTestWape, type RoundRecord } from './federated.ts';
import { prepareShops, type PreparedShops } from './prepare.ts';
import { writeReport } from './report.ts';
import { createRng, mixSeed, type Rng } from './rng.ts';
import { UpdateRecorder, checkAggregate, type AggregateCheck } from './secure-check.ts';
import { checkTargets, type TargetResult } from './targets.ts';

/** The secagg stages, in order; a simulated dropout happens as one of them opens. */
export const DROPOUT_STAGES = ['AdvertiseKeys', 'ShareKeys', 'MaskedInput', 'ConsistencyCheck', 'Unmask'] as const;
export type DropoutStage = (typeof DROPOUT_STAGES)[number];

export interface SimulateOptions {
  /** Shops, one client node each. Default 16. */
  readonly shops?: number;
  /** Committed rounds. Default 15 (the example's tuned config). */
  readonly rounds?: number;
  /** Secagg communication graph. Default 'complete'. */
  readonly graph?: GraphKind;
  /** Probability in [0, 1) that a shop drops out of a round attempt. Default 0. */
  readonly dropout?: number;
  /** The stage at which a dropping shop leaves. Default 'MaskedInput' (after sharing its keys: its pairwise masks must be recovered). */
  readonly dropoutStage?: DropoutStage;
  /** Seed of the synthetic data and of the dropout draws. Default 1. */
  readonly seed?: number;
  /** Folder for report.md, report.json, loss.svg, forecast.svg, model/ and audit.jsonl; nothing is written when absent. */
  readonly out?: string;
  /** The coordinator's data folder is a fresh one under this, removed at the end. Default `results/tmp`. */
  readonly workDir?: string;
  /** Train and evaluate the local-only and centralised baselines. Default true. */
  readonly baselines?: boolean;
  /** Overrides of the example's config; `shops`, `rounds` and `seed` above take precedence. */
  readonly config?: DemandConfigInput;
  /** Overrides of the coordinator's task settings. */
  readonly task?: SimulateTaskOverrides;
  /**
   * Distributed differential privacy (the coordinator's task.dp): ε over all rounds at
   * δ (default DEFAULT_SIMULATE_DP_DELTA). The task then fixes its threshold, sums no
   * metrics and weighs shops equally; each shop's policy.maxEpsilon admits it.
   */
  readonly dp?: { readonly epsilon: number; readonly delta?: number };
}

/** δ of `tally simulate --dp-epsilon` without --dp-delta. */
export const DEFAULT_SIMULATE_DP_DELTA = 1e-6;
/**
 * The demo shops' policy.maxEpsilon, as a multiple of the task's ε: room for attempts
 * that abort after the masked inputs were sent (each shop charges those too).
 */
export const SIMULATE_DP_BUDGET_FACTOR = 2;

export interface SimulateTaskOverrides {
  /** Shamir threshold; default: chosen by the coordinator (cohort.ts). */
  readonly threshold?: number;
  /** Default 0.05 (the coordinator's default). */
  readonly corruptFraction?: number;
  readonly trainMs?: number;
  readonly stageMs?: number;
}

export interface SimulateHooks {
  /** Progress (one line per round attempt) and the end summary. Default: none. */
  readonly logger?: MlLogger;
  /** Called after each round attempt, committed or aborted. */
  readonly onRound?: (round: SimulatedRound) => void;
  /** The coordinator's own log lines. Default: dropped. */
  readonly coordinatorLogger?: CoordinatorLogger;
  /** Each shop's client-node log lines. Default: dropped. */
  readonly clientLogger?: (shopId: string) => ClientLogger;
  /** Stops the run (the coordinator and nodes close; simulate rejects with the signal's reason). */
  readonly signal?: AbortSignal;
  /** Called once the coordinator listens (e.g. to print its console's address and token). */
  readonly onCoordinator?: (coordinator: Coordinator) => void;
}

/** Task settings the simulation fixes (the example's author's bounds; fractionalBits is left to the plan). */
export const SIMULATION_QUANT = Object.freeze({
  /** Update L2 norm is ≈1.6 at most in round 1, below 1.2 after. */
  clipNorm: 2,
  /** A shop's training rows (at most 4 044 with the defaults); raised to the largest shop's rows if need be. */
  weightBound: 4096,
  /** loss_before, loss_after: MSE on normalised demand, ≈2.5 at most. */
  metricBound: 4,
});

/** Deadlines and heartbeats: generous, since every node shares one event loop. */
export const SIMULATION_DEADLINES = Object.freeze({ trainMs: 300_000, stageMs: 60_000, retryMs: 100, heartbeatMs: 60_000 });

/** Attempts after which the simulation gives up: aborts beyond this mean the dropout rate is too high for t. */
export const MAX_ABORTS_PER_ROUND = 10;

export interface SimulatedDrop {
  readonly id: number;
  readonly shopId: string;
  /** 'TaskOffer' or a secagg stage. */
  readonly stage: string;
  readonly reason: string;
  /** True when the simulation closed the node on purpose (--dropout). */
  readonly injected: boolean;
}

/** One round attempt. */
export interface SimulatedRound {
  readonly round: number;
  /** 1-based count of attempts over the run. */
  readonly attempt: number;
  readonly status: 'committed' | 'aborted';
  readonly reason?: string;
  /** Client ids offered the round (shop i is id i + 1). */
  readonly cohort: readonly number[];
  readonly accepted: readonly number[];
  /** U3: ids whose masked input is in the sum. */
  readonly survivors: readonly number[];
  readonly threshold: number | null;
  /** Neighbours per client in the round's graph. */
  readonly degree: number | null;
  readonly drops: readonly SimulatedDrop[];
  /** Secret keys the coordinator reconstructed: self masks of survivors, pairwise mask keys of the dropped. */
  readonly revealed: { readonly selfMaskOf: readonly number[]; readonly maskKeyOf: readonly number[] };
  readonly totalWeight: number | null;
  readonly clippedCount: number | null;
  /** Securely aggregated weighted means: loss_before (the global model's training MSE), loss_after (after local training). */
  readonly metrics: Readonly<Record<string, number>> | null;
  /** Pooled validation WAPE of the new global model (committed rounds): the kept model is the best round's. */
  readonly validationWape?: number;
  /** DIAGNOSTIC: pooled test WAPE of the new global model (committed rounds); never used to choose. */
  readonly testWape?: number;
  /** The secure aggregate against its plaintext reference (committed rounds; not with DP, whose sum is noisy). */
  readonly check?: AggregateCheck;
  /** With DP: the round's privacy spend from the audit log (ε at the task's δ, this round and in all). */
  readonly dp?: AuditDp;
  readonly seconds: number;
  readonly elapsedSeconds: number;
}

export interface SimulationTimings {
  readonly prepareSeconds: number;
  readonly federatedSeconds: number;
  readonly localSeconds: number;
  readonly centralisedSeconds: number;
  readonly personaliseSeconds: number;
  readonly glmSeconds: number;
  readonly evaluateSeconds: number;
  readonly totalSeconds: number;
}

export interface SimulateResult {
  readonly settings: Required<Pick<SimulateOptions, 'shops' | 'rounds' | 'graph' | 'dropout' | 'dropoutStage' | 'seed'>>;
  readonly backend: string;
  readonly weightCount: number;
  readonly trainingRows: number;
  /** The coordinator's task as it ran (threshold when fixed, quantisation with the chosen fractionalBits). */
  readonly task: {
    readonly cohortSize: number;
    readonly threshold: number | null;
    readonly dropoutTolerance: number | null;
    readonly corruptFraction: number;
    readonly quant: CoordinatorConfig['task']['quant'];
  };
  readonly rounds: readonly SimulatedRound[];
  readonly committed: number;
  readonly aborted: number;
  /** Largest |secure − plaintext| over all committed rounds, and the largest bound. */
  readonly secureCheck: { readonly maxAbsDiff: number; readonly maxBound: number; readonly ok: boolean };
  /** The federated model: the committed global model with the best validation WAPE. */
  readonly federated: Float32Array;
  /** Its round (0: the round-0 model). */
  readonly bestRound: number;
  /** Each shop's personalisation (with baselines). */
  readonly choices: readonly ShopChoice[] | null;
  /** Pooled test WAPE of the round-0 model and of the federated model. */
  readonly initialTestWape: number;
  readonly finalTestWape: number;
  readonly evaluation: EvaluationReport;
  readonly targets: readonly TargetResult[];
  readonly timings: SimulationTimings;
  /** With DP: the target, the plan and what was spent (ε at δ over the rounds charged, for t shops' noise and for the actual survivors'). */
  readonly dp: SimulatedDp | null;
  /** Files written under `out`. */
  readonly written: readonly string[];
}

export interface SimulatedDp {
  readonly epsilon: number;
  readonly delta: number;
  readonly noiseMultiplier: number;
  readonly threshold: number;
  readonly bitsNeeded: number;
  readonly spent: number;
  readonly spentSurvivors: number;
  readonly roundsCharged: number;
}

/** An option out of range, or a combination the coordinator refuses; `option` names it. */
export class SimulateOptionError extends RangeError {
  override readonly name = 'SimulateOptionError';
  readonly option: keyof SimulateOptions;
  constructor(option: keyof SimulateOptions, message: string) {
    super(`${option}: ${message}`);
    this.option = option;
  }
}

const DEFAULTS = Object.freeze({ shops: 16, rounds: 15, graph: 'complete' as GraphKind, dropout: 0, dropoutStage: 'MaskedInput' as DropoutStage, seed: 1 });
export const SIMULATE_DEFAULTS: Readonly<typeof DEFAULTS & { out: string; workDir: string }> = Object.freeze({
  ...DEFAULTS,
  out: 'results/demand-forecast',
  workDir: 'results/tmp',
});

/** Largest number of shops: a resource bound for one process, not a protocol one. */
export const MAX_SHOPS = 64;
export const MAX_ROUNDS = 1000;

/** The stage whose closing report opens `stage`. */
const STAGE_BEFORE: Readonly<Record<DropoutStage, string>> = {
  AdvertiseKeys: 'TaskOffer',
  ShareKeys: 'AdvertiseKeys',
  MaskedInput: 'ShareKeys',
  ConsistencyCheck: 'MaskedInput',
  Unmask: 'ConsistencyCheck',
};

type Settings = SimulateResult['settings'];

/** `options.dp`: ε finite > 0, δ in (0, 1); throws SimulateOptionError. */
export function checkDpOption(dp: SimulateOptions['dp']): void {
  if (dp === undefined) return;
  if (typeof dp.epsilon !== 'number' || !Number.isFinite(dp.epsilon) || dp.epsilon <= 0) {
    throw new SimulateOptionError('dp', `expected ε to be a finite number > 0, got ${String(dp.epsilon)}`);
  }
  if (dp.delta !== undefined && !(typeof dp.delta === 'number' && dp.delta > 0 && dp.delta < 1)) {
    throw new SimulateOptionError('dp', `expected δ in (0, 1), got ${String(dp.delta)}`);
  }
}

/** Checks the options and fills in the defaults; throws SimulateOptionError. */
export function resolveSimulateOptions(options: SimulateOptions = {}): Settings {
  const s = { ...DEFAULTS, ...definedOnly(options) };
  const int = (key: 'shops' | 'rounds' | 'seed', min: number, max: number): void => {
    const v = s[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new SimulateOptionError(key, `expected an integer in [${min}, ${max}], got ${String(v)}`);
    }
  };
  int('shops', 2, MAX_SHOPS);
  int('rounds', 1, MAX_ROUNDS);
  int('seed', 0, 2 ** 32 - 1);
  if (!GRAPH_KINDS.includes(s.graph)) throw new SimulateOptionError('graph', `expected one of ${GRAPH_KINDS.join(', ')}, got ${String(s.graph)}`);
  if (typeof s.dropout !== 'number' || !(s.dropout >= 0 && s.dropout < 1)) {
    throw new SimulateOptionError('dropout', `expected a probability in [0, 1), got ${String(s.dropout)}`);
  }
  if (!DROPOUT_STAGES.includes(s.dropoutStage)) {
    throw new SimulateOptionError('dropoutStage', `expected one of ${DROPOUT_STAGES.join(', ')}, got ${String(s.dropoutStage)}`);
  }
  return { shops: s.shops, rounds: s.rounds, graph: s.graph, dropout: s.dropout, dropoutStage: s.dropoutStage, seed: s.seed };
}

export async function simulate(options: SimulateOptions = {}, hooks: SimulateHooks = {}): Promise<SimulateResult> {
  const t0 = performance.now();
  const settings = resolveSimulateOptions(options);
  checkDpOption(options.dp);
  const log = hooks.logger ?? silentMlLogger;
  // Refuse an unsafe shape before spending time on data and training.
  const shape = chooseTaskShape(settings, options.task ?? {}, log, options.dp);

  const input = options.config ?? {};
  const prepared = await prepareShops(
    {
      ...input,
      data: { ...input.data, shops: settings.shops, seed: settings.seed },
      training: { ...input.training, rounds: settings.rounds },
    },
    { logger: log },
  );
  try {
    const t1 = performance.now();
    const trainingRows = prepared.trainers.reduce((n, t) => n + t.rows, 0);
    log.info(
      `demand-forecast: ${prepared.shops.length} shops × ${prepared.data.products.length} products × ${prepared.data.dates.length} days; ` +
        `${trainingRows} training rows; ${prepared.weightCount} weights; backend ${prepared.backend.backend}`,
    );
    hooks.signal?.throwIfAborted();
    const fed = await runSecureRounds(prepared, settings, shape, options, hooks, t0);
    try {
      return await finishRun({ prepared, settings, options, hooks, t0, t1, trainingRows }, fed);
    } finally {
      await rm(fed.dataDir, { recursive: true, force: true });
    }
  } finally {
    prepared.dispose();
  }
}

interface RunContext {
  readonly prepared: PreparedShops;
  readonly settings: Settings;
  readonly options: SimulateOptions;
  readonly hooks: SimulateHooks;
  /** performance.now() at the start, and once the shops were prepared. */
  readonly t0: number;
  readonly t1: number;
  readonly trainingRows: number;
}

/** Baselines, evaluation, targets and the report, after the secure rounds. */
async function finishRun(ctx: RunContext, fed: SecureRun): Promise<SimulateResult> {
  const { prepared, settings, options, hooks, t0, t1, trainingRows } = ctx;
  const log = hooks.logger ?? silentMlLogger;
  const t2 = performance.now();
  hooks.signal?.throwIfAborted();

  log.info(`demand-forecast: federated: kept round ${fed.bestRound} of ${fed.rounds.filter((r) => r.status === 'committed').length} (${fed.config.task.dp === undefined ? 'best validation WAPE' : 'the last round: under DP no round is chosen on the shops\' data'})`);
  let evaluation: EvaluationReport;
  let choices: readonly ShopChoice[] | null = null;
  let armTimes = { localSeconds: 0, centralisedSeconds: 0, personaliseSeconds: 0, glmSeconds: 0, evaluateSeconds: 0 };
  if (options.baselines !== false) {
    log.info('demand-forecast: local-only, centralised, personalisation (fine-tune + choice on validation) and Poisson GLM per shop');
    const arms = await runArms(prepared, fed.model, log);
    evaluation = arms.evaluation;
    choices = arms.choices;
    armTimes = arms.timings;
  } else {
    evaluation = evaluateAll(prepared.shops, prepared.createModel, { federated: fed.model });
  }
  hooks.signal?.throwIfAborted();
  const targets = checkTargets(evaluation);
  const scratch = prepared.createModel();
  let initialTestWape: number;
  let finalTestWape: number;
  try {
    initialTestWape = pooledTestWape(scratch, prepared.shops, prepared.initialWeights);
    finalTestWape = pooledTestWape(scratch, prepared.shops, fed.model);
  } finally {
    scratch.dispose();
  }
  const t5 = performance.now();
  const timings: SimulationTimings = {
    prepareSeconds: (t1 - t0) / 1000,
    federatedSeconds: (t2 - t1) / 1000,
    ...armTimes,
    totalSeconds: (t5 - t0) / 1000,
  };
  const checks = fed.rounds.flatMap((r) => (r.check === undefined ? [] : [r.check]));
  const result: Omit<SimulateResult, 'written'> = {
    settings,
    backend: prepared.backend.backend,
    weightCount: prepared.weightCount,
    trainingRows,
    task: {
      cohortSize: fed.config.task.cohortSize,
      threshold: fed.config.task.threshold ?? null,
      dropoutTolerance: fed.config.task.dropoutTolerance ?? null,
      corruptFraction: fed.config.task.corruptFraction,
      quant: fed.config.task.quant,
    },
    rounds: fed.rounds,
    committed: fed.rounds.filter((r) => r.status === 'committed').length,
    aborted: fed.rounds.filter((r) => r.status === 'aborted').length,
    secureCheck: {
      maxAbsDiff: Math.max(0, ...checks.map((c) => c.maxAbsDiff)),
      maxBound: Math.max(0, ...checks.map((c) => c.bound)),
      ok: checks.every((c) => c.ok),
    },
    federated: fed.model,
    bestRound: fed.bestRound,
    choices,
    initialTestWape,
    finalTestWape,
    evaluation,
    targets,
    timings,
    dp: simulatedDp(fed),
  };
  const written: string[] = [];
  if (options.out !== undefined) {
    written.push(...(await writeSimulationReport(options.out, prepared, result, fed.auditFile)));
  }
  return { ...result, written };
}

/** The DP summary of a run: the plan and the spend of the last charged attempt (null without DP). */
function simulatedDp(fed: SecureRun): SimulatedDp | null {
  const dp = fed.config.task.dp;
  const plan = dpPlanOf(fed.config.task);
  if (dp === undefined || plan === null) return null;
  const last = fed.rounds.filter((r) => r.dp !== undefined).at(-1)?.dp;
  return {
    epsilon: dp.epsilon,
    delta: dp.delta,
    noiseMultiplier: plan.noiseMultiplier,
    threshold: plan.minSurvivors,
    bitsNeeded: plan.bitsNeeded,
    spent: last?.epsilon ?? 0,
    spentSurvivors: last?.epsilonSurvivors ?? 0,
    roundsCharged: last?.roundsCharged ?? 0,
  };
}

// ---- the task's shape --------------------------------------------------------------

interface TaskShape {
  readonly dropoutTolerance: number | undefined;
  readonly overrides: SimulateTaskOverrides;
  readonly dp?: SimulateOptions['dp'];
}

/** The coordinator task as JSON (parseCoordinatorConfig validates it and fills in the rest). */
function taskJson(settings: Settings, shape: TaskShape, modelLength: number, weightBound: number, initialModel?: string): Record<string, unknown> {
  const o = shape.overrides;
  return {
    id: TASK_ID,
    modelLength,
    ...(initialModel !== undefined ? { initialModel } : {}),
    rounds: settings.rounds,
    cohortSize: settings.shops,
    // Every shop before each attempt: a dropped node is back before the next one starts.
    minClients: settings.shops,
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(shape.dropoutTolerance !== undefined ? { dropoutTolerance: shape.dropoutTolerance } : {}),
    ...(o.corruptFraction !== undefined ? { corruptFraction: o.corruptFraction } : {}),
    graph: settings.graph,
    activeAdversary: true,
    deadlines: {
      trainMs: o.trainMs ?? SIMULATION_DEADLINES.trainMs,
      stageMs: o.stageMs ?? SIMULATION_DEADLINES.stageMs,
      retryMs: SIMULATION_DEADLINES.retryMs,
    },
    quant: { clipNorm: SIMULATION_QUANT.clipNorm, weightBound, metricBound: SIMULATION_QUANT.metricBound },
    metrics: [...TRAINER_METRICS],
    strategy: { name: 'fedavg' },
    ...(shape.dp === undefined ? {} : dpTaskJson(settings, shape, shape.dp)),
  };
}

/**
 * task.dp and what it needs: a fixed threshold (the one the coordinator would choose
 * for the full cohort, unless overridden) and no metric lanes.
 */
function dpTaskJson(settings: Settings, shape: TaskShape, dp: NonNullable<SimulateOptions['dp']>): Record<string, unknown> {
  const o = shape.overrides;
  const threshold =
    o.threshold ??
    chooseRoundShape(
      { dropoutTolerance: shape.dropoutTolerance, corruptFraction: o.corruptFraction ?? DEFAULT_CORRUPT_FRACTION, graph: settings.graph },
      settings.shops,
    ).t;
  return { threshold, metrics: [], dp: { mechanism: 'ddgauss', epsilon: dp.epsilon, delta: dp.delta ?? DEFAULT_SIMULATE_DP_DELTA } };
}

function parseTask(settings: Settings, shape: TaskShape, modelLength: number, weightBound: number, dataDir: string, initialModel?: string): CoordinatorConfig {
  return parseCoordinatorConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir,
      limits: { heartbeatMs: SIMULATION_DEADLINES.heartbeatMs },
      task: taskJson(settings, shape, modelLength, weightBound, initialModel),
    },
    dataDir,
  );
}

/**
 * The dropout tolerance the coordinator plans for: the simulated rate when a safe
 * threshold exists for it (at least the coordinator's default 0.1), else the default
 * (rounds then abort more often and are retried). Throws SimulateOptionError when no
 * safe threshold exists for this many shops at all.
 */
function chooseTaskShape(settings: Settings, overrides: SimulateTaskOverrides, log: MlLogger, dp?: SimulateOptions['dp']): TaskShape {
  const fits = (shape: TaskShape, n = settings.shops): string | null => {
    try {
      parseTask({ ...settings, shops: n }, shape, 1, SIMULATION_QUANT.weightBound, process.cwd());
      return null;
    } catch (err) {
      if (err instanceof ConfigError) return err.message;
      if (err instanceof SecAggError) return err.message; // no safe threshold for the DP task's fixed t
      throw err;
    }
  };
  const base: TaskShape = { dropoutTolerance: undefined, overrides, dp };
  if (settings.dropout > 0.1 && overrides.threshold === undefined) {
    const planned: TaskShape = { dropoutTolerance: settings.dropout, overrides, dp };
    if (fits(planned) === null) return planned;
    if (fits(base) === null) {
      log.warn(
        `simulate: no safe threshold for ${settings.shops} shops tolerates a dropout rate of ${settings.dropout}; ` +
          'planning for the default 0.1: expect aborted rounds (retried with fresh keys)',
      );
    }
  }
  const why = fits(base);
  if (why === null) return base;
  let smallest: number | undefined;
  for (let n = settings.shops + 1; n <= MAX_SHOPS && smallest === undefined; n++) if (fits(base, n) === null) smallest = n;
  throw new SimulateOptionError(
    'shops',
    `${settings.shops} shops are too few for a safe threshold on the ${settings.graph} graph` +
      (smallest !== undefined ? `: use at least ${smallest} shops` : '') +
      ` (the coordinator says: ${why})`,
  );
}

// ---- the secure rounds --------------------------------------------------------------

interface SecureRun {
  /** The kept model: the committed round with the best validation WAPE (the last committed round under DP). */
  readonly model: Float32Array;
  readonly bestRound: number;
  readonly rounds: SimulatedRound[];
  readonly config: CoordinatorConfig;
  readonly dataDir: string;
  readonly auditFile: string;
}

async function runSecureRounds(
  prepared: PreparedShops,
  settings: Settings,
  shape: TaskShape,
  options: SimulateOptions,
  hooks: SimulateHooks,
  t0: number,
): Promise<SecureRun> {
  const log = hooks.logger ?? silentMlLogger;
  const workDir = path.resolve(options.workDir ?? SIMULATE_DEFAULTS.workDir);
  await mkdir(workDir, { recursive: true });
  const dataDir = await mkdtemp(path.join(workDir, 'simulate-'));
  try {
    const initialFile = path.join(dataDir, 'initial.f32');
    // The coordinator's initialModel format: raw little-endian float32.
    const w0 = prepared.initialWeights;
    const bytes = new DataView(new ArrayBuffer(4 * w0.length));
    w0.forEach((v, i) => bytes.setFloat32(4 * i, v, true));
    await writeFile(initialFile, new Uint8Array(bytes.buffer));
    const maxRows = Math.max(...prepared.trainers.map((t) => t.rows));
    const weightBound = Math.max(SIMULATION_QUANT.weightBound, maxRows);
    const config = parseTask(settings, shape, prepared.weightCount, weightBound, dataDir, initialFile);

    const shopIds = prepared.shops.map((s) => s.shopId);
    const identities: KeyPair[] = shopIds.map(() => generateIdentity());
    const enrolment = parseEnrolment(
      { clients: identities.map((k, i) => ({ id: i + 1, name: shopIds[i], publicKey: toHex(k.publicKey) })) },
      'simulate',
    );
    const coordinator = await startCoordinator({ config, enrolment, logger: hooks.coordinatorLogger ?? silentCoordinatorLogger, unmaskThreads: 1 });
    hooks.onCoordinator?.(coordinator);
    const t = config.task;
    log.info(
      `demand-forecast: coordinator on ${coordinator.url}: ${t.rounds} rounds, ${t.cohortSize} shops, ${t.graph} graph, ` +
        `${t.activeAdversary ? 'active-adversary' : 'honest-but-curious'} secure aggregation, FedAvg; quantisation clipNorm ${t.quant.clipNorm}, ` +
        `weightBound ${t.quant.weightBound}, metricBound ${t.quant.metricBound}, fractionalBits ${t.quant.fractionalBits}` +
        (settings.dropout > 0 ? `; each shop drops at ${settings.dropoutStage} with probability ${settings.dropout}` : ''),
    );
    const sim = new Simulation({ prepared, settings, config, coordinator, identities, shopIds, hooks, t0 });
    try {
      await sim.run();
      return { model: sim.best, bestRound: sim.bestRound, rounds: sim.rounds, config, dataDir, auditFile: path.join(dataDir, t.id, AUDIT_FILE) };
    } finally {
      await sim.close();
    }
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

interface SimulationDeps {
  readonly prepared: PreparedShops;
  readonly settings: Settings;
  readonly config: CoordinatorConfig;
  readonly coordinator: Coordinator;
  readonly identities: readonly KeyPair[];
  readonly shopIds: readonly string[];
  readonly hooks: SimulateHooks;
  readonly t0: number;
}

/** The coordinator, the nodes, the dropout draws and the per-round checks of one run. */
class Simulation {
  readonly rounds: SimulatedRound[] = [];
  private readonly recorder = new UpdateRecorder();
  private readonly nodes = new Map<number, ClientNode>();
  private readonly connected = new Set<number>();
  private readonly disconnectWaiters = new Map<number, (() => void)[]>();
  /** Ids closed on purpose in the current attempt, with the stage they left at. */
  private injected = new Map<number, string>();
  private readonly rng: Rng;
  private readonly policy: Policy;
  private readonly beforeStage: string;
  private previous: Float32Array;
  /** The committed model with the lowest pooled validation WAPE so far, and its round. */
  best: Float32Array;
  bestRound = 0;
  private bestWape: number;
  private attempts = 0;
  private chain: Promise<void> = Promise.resolve();
  private failure: Error | null = null;
  private closed = false;
  private readonly off: () => void;
  private readonly scratch: LayersModel;

  private readonly prepared: PreparedShops;
  private readonly settings: Settings;
  private readonly config: CoordinatorConfig;
  private readonly coordinator: Coordinator;
  private readonly identities: readonly KeyPair[];
  private readonly shopIds: readonly string[];
  private readonly hooks: SimulateHooks;
  private readonly t0: number;

  constructor(d: SimulationDeps) {
    this.prepared = d.prepared;
    this.settings = d.settings;
    this.config = d.config;
    this.coordinator = d.coordinator;
    this.identities = d.identities;
    this.shopIds = d.shopIds;
    this.hooks = d.hooks;
    this.t0 = d.t0;
    this.rng = createRng(mixSeed(d.settings.seed, 0xd209));
    this.beforeStage = STAGE_BEFORE[d.settings.dropoutStage];
    this.previous = d.prepared.initialWeights;
    this.scratch = d.prepared.createModel();
    this.best = d.prepared.initialWeights;
    this.bestWape = validationWape(this.scratch, d.prepared.shops, () => this.best);
    const dp = d.config.task.dp;
    this.policy = {
      tasks: [TASK_ID],
      minCohort: Math.min(3, d.settings.shops),
      minThreshold: 2,
      maxRounds: 1_000_000,
      graph: d.settings.graph,
      // A budget that admits the task (and retried attempts), counted at the task's δ.
      ...(dp === undefined ? {} : { maxEpsilon: SIMULATE_DP_BUDGET_FACTOR * dp.epsilon, delta: dp.delta, requireDp: true }),
    };
    this.off = d.coordinator.on((e) => this.onEvent(e));
  }

  async run(): Promise<Float32Array> {
    const signal = this.hooks.signal;
    const onAbort = (): void => this.fail(signal?.reason instanceof Error ? signal.reason : new Error('simulate: aborted'));
    if (signal?.aborted === true) onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for (let i = 0; i < this.identities.length; i++) this.startNode(i + 1);
      return await this.finish();
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async finish(): Promise<Float32Array> {
    const summary = await this.coordinator.done;
    await this.chain;
    if (this.failure !== null) throw this.failure;
    if (!summary.finished) throw new Error(`simulate: the coordinator stopped at round ${summary.lastRound} of ${this.settings.rounds}`);
    return summary.model;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.off();
    await Promise.all([...this.nodes.values()].map((n) => n.close()));
    await this.coordinator.close();
    this.scratch.dispose();
  }

  private fail(err: Error): void {
    if (this.failure !== null) return;
    this.failure = err;
    void this.coordinator.close();
  }

  private startNode(id: number): void {
    const shopId = this.shopIds[id - 1] as string;
    const node = startClientNode({
      url: this.coordinator.url,
      identity: this.identities[id - 1] as KeyPair,
      trainer: this.recorder.wrap(id, this.prepared.trainers[id - 1]!),
      policy: this.policy,
      logger: this.hooks.clientLogger?.(shopId) ?? silentClientLogger,
      reconnect: { initialMs: 50, maxMs: 2000 },
      heartbeatMs: SIMULATION_DEADLINES.heartbeatMs,
      // As a real shop is configured (`peers`): every roster must be enrolled shops.
      enrolled: new Map(this.identities.map((k, i) => [i + 1, k.publicKey])),
    });
    this.nodes.set(id, node);
    void node.done.then((r) => {
      if (r.status === 'rejected' && this.nodes.get(id) === node) {
        this.fail(new Error(`simulate: the coordinator refused shop ${shopId}: ${r.reason}`));
      }
    });
  }

  private onEvent(e: CoordinatorEvent): void {
    switch (e.type) {
      case 'client-connected':
        this.connected.add(e.id);
        return;
      case 'client-disconnected': {
        this.connected.delete(e.id);
        const waiters = this.disconnectWaiters.get(e.id) ?? [];
        this.disconnectWaiters.delete(e.id);
        for (const w of waiters) w();
        return;
      }
      case 'stage':
        if (this.settings.dropout > 0 && e.report.stage === this.beforeStage) this.injectDropouts();
        return;
      case 'round': {
        const injected = this.injected;
        this.injected = new Map();
        const model = e.model;
        this.chain = this.chain.then(() => this.afterAttempt(e.summary.round, model, injected)).catch((err: unknown) => this.fail(err as Error));
        return;
      }
      case 'done':
        return;
    }
  }

  /** One draw per shop per attempt, in id order (repeatable for a seed); the drawn nodes close now. */
  private injectDropouts(): void {
    for (let id = 1; id <= this.identities.length; id++) {
      const drop = this.rng.next() < this.settings.dropout;
      const node = this.nodes.get(id);
      if (!drop || node === undefined || this.injected.has(id)) continue;
      this.injected.set(id, this.settings.dropoutStage);
      void node.close();
    }
  }

  private async afterAttempt(round: number, model: Float32Array | null, injected: ReadonlyMap<number, string>): Promise<void> {
    this.attempts++;
    const record = (await readAuditLog(path.join(this.config.dataDir, this.config.task.id, AUDIT_FILE))).records.at(-1);
    if (record === undefined || record.round !== round) throw new Error(`simulate: the audit log has no record of round ${round}`);
    const committed = record.status === 'committed' && model !== null;
    let check: AggregateCheck | undefined;
    let testWape: number | undefined;
    let vWape: number | undefined;
    if (committed && this.config.task.dp !== undefined) {
      // A DP sum carries noise: there is no exact plaintext reference to compare with.
      this.recorder.forget(round);
      this.previous = model;
      // The kept model is the last round's: choosing a round on the shops' pooled validation
      // WAPE would use their data outside the privacy accountant (a DP task carries no metric
      // lanes). The validation WAPE is still computed, for the report only.
      vWape = validationWape(this.scratch, this.prepared.shops, () => model);
      this.bestWape = vWape;
      this.best = model;
      this.bestRound = round;
      testWape = pooledTestWape(this.scratch, this.prepared.shops, model);
    } else if (committed) {
      const names = this.config.task.metrics;
      check = checkAggregate({
        round,
        plan: this.config.task.quant,
        previous: this.previous,
        committed: model,
        survivors: record.survivors,
        totalWeight: record.totalWeight ?? Number.NaN,
        metrics: names.map((n) => record.metrics?.[n] ?? Number.NaN),
        updates: (id) => this.recorder.get(round, id),
      });
      this.recorder.forget(round);
      this.previous = model;
      // In a deployment each shop would report Σ|error| and Σ units on its validation rows as securely summed metrics.
      vWape = validationWape(this.scratch, this.prepared.shops, () => model);
      if (vWape < this.bestWape) {
        this.bestWape = vWape;
        this.best = model;
        this.bestRound = round;
      }
      testWape = pooledTestWape(this.scratch, this.prepared.shops, model);
    }
    const now = performance.now();
    const r: SimulatedRound = {
      round,
      attempt: this.attempts,
      status: record.status,
      ...(record.reason !== undefined ? { reason: record.reason } : {}),
      cohort: record.cohort,
      accepted: record.accepted,
      survivors: record.survivors,
      threshold: record.threshold,
      degree: record.degree,
      drops: dropsOf(record, injected, this.shopIds),
      revealed: record.revealed,
      totalWeight: record.totalWeight,
      clippedCount: record.clippedCount,
      metrics: record.metrics,
      ...(vWape !== undefined ? { validationWape: vWape } : {}),
      ...(testWape !== undefined ? { testWape } : {}),
      ...(check !== undefined ? { check } : {}),
      ...(record.dp !== undefined ? { dp: record.dp } : {}),
      seconds: Math.max(0, Date.parse(record.endedAt) - Date.parse(record.startedAt)) / 1000,
      elapsedSeconds: (now - this.t0) / 1000,
    };
    this.rounds.push(r);
    if (this.failure !== null) return; // closing: the attempt was cut short, nothing to report
    this.hooks.logger?.info(progressLine(r, this.settings.rounds));
    this.hooks.onRound?.(r);
    if (check !== undefined && !check.ok) {
      throw new Error(`simulate: round ${round}: the secure aggregate does not match the plaintext average: ${check.problems.join('; ')}`);
    }
    const aborted = this.rounds.filter((x) => x.status === 'aborted').length;
    if (aborted > MAX_ABORTS_PER_ROUND * this.settings.rounds) {
      throw new Error(`simulate: ${aborted} round attempts aborted; lower the dropout rate or raise the number of shops`);
    }
    // Bring the dropped shops back for the next attempt, once the coordinator has seen them go.
    const last = committed && round >= this.settings.rounds;
    if (!last) for (const id of injected.keys()) void this.restart(id);
  }

  private async restart(id: number): Promise<void> {
    const old = this.nodes.get(id);
    if (old !== undefined) await old.close();
    if (this.connected.has(id)) {
      await new Promise<void>((resolve) => {
        const list = this.disconnectWaiters.get(id) ?? [];
        list.push(resolve);
        this.disconnectWaiters.set(id, list);
      });
    }
    if (this.failure === null && !this.closed) this.startNode(id);
  }
}

function dropsOf(record: AuditRecord, injected: ReadonlyMap<number, string>, shopIds: readonly string[]): SimulatedDrop[] {
  return Object.entries(record.drops)
    .map(([key, d]) => {
      const id = Number(key);
      return { id, shopId: shopIds[id - 1] ?? `id ${id}`, stage: d.stage, reason: d.reason, injected: injected.has(id) };
    })
    .sort((a, b) => a.id - b.id);
}

/** `round 3/15: 16/16 survivors, loss 0.412 → 0.398, 12.3 s elapsed` (loss: securely aggregated training MSE before → after local training). */
export function progressLine(r: SimulatedRound, rounds: number): string {
  const head = `round ${r.round}/${rounds}: ${r.survivors.length}/${r.cohort.length} survivors`;
  const injected = r.drops.filter((d) => d.injected);
  const others = r.drops.filter((d) => !d.injected);
  const notes = [
    ...(injected.length > 0 ? [`${injected.length} dropped out at ${[...new Set(injected.map((d) => d.stage))].join(', ')}`] : []),
    ...(others.length > 0 ? [`${others.length} dropped by the coordinator: ${[...new Set(others.map((d) => `${d.reason} (${d.stage})`))].join('; ')}`] : []),
  ];
  const dropped = notes.length === 0 ? '' : ` (${notes.join('; ')})`;
  const elapsed = `${r.elapsedSeconds.toFixed(1)} s elapsed`;
  if (r.status === 'aborted') {
    return `${head}${dropped}, aborted (threshold ${r.threshold ?? 'n/a'}): ${r.reason ?? 'no reason given'}; the coordinator retries with fresh keys, ${elapsed}`;
  }
  if (r.dp !== undefined) {
    // A DP task sums no metrics: its round line shows the privacy spent instead.
    return `${head}${dropped}, ε ${fmt(r.dp.epsilonRound)} this round, ${fmt(r.dp.epsilon)} in all at δ = ${r.dp.delta}, ${elapsed}`;
  }
  const m = r.metrics ?? {};
  const loss = `loss ${fmt(m['loss_before'])} → ${fmt(m['loss_after'])}`;
  return `${head}${dropped}, ${loss}, ${elapsed}`;
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(3);
}

// ---- report -------------------------------------------------------------------------

async function writeSimulationReport(
  out: string,
  prepared: PreparedShops,
  result: Omit<SimulateResult, 'written'>,
  auditFile: string,
): Promise<string[]> {
  const history: RoundRecord[] = result.rounds
    .filter((r) => r.status === 'committed')
    .map((r) => ({
      round: r.round,
      lossBefore: r.metrics?.['loss_before'] ?? Number.NaN,
      lossAfter: r.metrics?.['loss_after'] ?? Number.NaN,
      totalWeight: r.totalWeight ?? 0,
      ...(r.validationWape !== undefined ? { validationWape: r.validationWape } : {}),
      ...(r.testWape !== undefined ? { testWape: r.testWape } : {}),
      seconds: r.seconds,
    }));
  const s = result.settings;
  const written = await writeReport(out, {
    prepared,
    evaluation: result.evaluation,
    history,
    federatedWeights: result.federated,
    ...(result.choices !== null ? { choices: result.choices } : {}),
    federatedBy:
      `tally simulate: a coordinator and ${s.shops} client nodes over loopback WebSockets, ` +
      `secure aggregation (active adversary, ${s.graph} graph), FedAvg` +
      (s.dropout > 0 ? `, dropout ${s.dropout} at ${s.dropoutStage}` : ''),
    extra: { simulation: simulationJson(result) },
    notes: { title: 'Targets and the secure-aggregation check', lines: reportNotes(result) },
  });
  await copyFile(auditFile, path.join(out, 'audit.jsonl'));
  return [...written, 'audit.jsonl'];
}

function reportNotes(result: Omit<SimulateResult, 'written'>): string[] {
  const c = result.secureCheck;
  return [
    ...result.targets.map((t) => `${t.target}: ${t.holds === null ? 'not evaluated' : t.holds ? 'holds' : '**does not hold**'} (${t.detail})`),
    result.dp === null
      ? `Secure aggregation vs the plaintext weighted average of the same updates: max |difference| ${c.maxAbsDiff.toExponential(2)} ` +
        `(quantisation bound ${c.maxBound.toExponential(2)}) over ${result.committed} committed rounds; ${result.aborted} attempts aborted and retried.`
      : `Distributed DP (shop level): ε = ${result.dp.spent.toPrecision(3)} spent at δ = ${result.dp.delta} over ${result.dp.roundsCharged} unmasked rounds ` +
        `(target ${result.dp.epsilon}), noise multiplier ${result.dp.noiseMultiplier.toPrecision(3)} for t = ${result.dp.threshold}, ${result.dp.bitsNeeded} of 32 bits; ` +
        `no plaintext check (the sum is noisy by design); ${result.committed} committed rounds, ${result.aborted} attempts aborted and retried.`,
    `Quantisation: clipNorm ${result.task.quant.clipNorm}, weightBound ${result.task.quant.weightBound}, ` +
      `metricBound ${result.task.quant.metricBound}, fractionalBits ${result.task.quant.fractionalBits}.`,
  ];
}

/** The run as plain JSON (no Float32Arrays, no per-shop forecasts): the CLI's --json summary and report.json's `simulation`. */
export function simulationJson(result: Omit<SimulateResult, 'written'> & { written?: readonly string[] }): Record<string, unknown> {
  const e = result.evaluation;
  const methods: readonly Method[] = METHODS.filter((m) => e.summary.methods.includes(m));
  return {
    settings: result.settings,
    backend: result.backend,
    weights: result.weightCount,
    trainingRows: result.trainingRows,
    task: result.task,
    committed: result.committed,
    aborted: result.aborted,
    secureCheck: result.secureCheck,
    dp: result.dp,
    bestRound: result.bestRound,
    personalisation: result.choices === null ? null : result.choices.map((c) => ({ shopId: c.shopId, final: c.final, blend: c.blend, bestSingle: c.choice, finetuneEpochs: c.finetuneEpochs, validation: c.validation })),
    initialTestWape: result.initialTestWape,
    finalTestWape: result.finalTestWape,
    rounds: result.rounds.map(roundJson),
    evaluation: {
      methods,
      shops: e.shops.map((s) => ({
        shopId: s.shopId,
        historyDays: s.historyDays,
        trainRows: s.trainRows,
        ...Object.fromEntries(methods.map((m) => [m, s.metrics[m] ?? null])),
      })),
      medianWape: e.summary.medianWape,
      medianMae: e.summary.medianMae,
      medianMase: e.summary.medianMase,
      pooledWape: e.summary.pooledWape,
      worstWape: e.summary.worstWape,
      federatedBeatsLocal: e.summary.federatedBeatsLocal ?? null,
      federatedBeatsNaive: e.summary.federatedBeatsNaive ?? null,
    },
    targets: result.targets,
    targetsHold: result.targets.every((t) => t.holds === true),
    timings: result.timings,
    ...(result.written !== undefined ? { files: result.written } : {}),
  };
}

/** One attempt as JSON: what the coordinator's audit log says, plus the plaintext check. */
export function roundJson(r: SimulatedRound): Record<string, unknown> {
  return {
    round: r.round,
    attempt: r.attempt,
    status: r.status,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    cohort: r.cohort,
    accepted: r.accepted,
    survivors: r.survivors,
    threshold: r.threshold,
    degree: r.degree,
    drops: r.drops,
    revealed: r.revealed,
    totalWeight: r.totalWeight,
    clippedCount: r.clippedCount,
    metrics: r.metrics,
    validationWape: r.validationWape ?? null,
    testWape: r.testWape ?? null,
    check:
      r.check === undefined
        ? null
        : { maxAbsDiff: r.check.maxAbsDiff, bound: r.check.bound, metricMaxAbsDiff: r.check.metricMaxAbsDiff, ok: r.check.ok, problems: r.check.problems },
    seconds: r.seconds,
    elapsedSeconds: r.elapsedSeconds,
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
