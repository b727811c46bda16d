/**
 * startCoordinator: the composition of the pieces. Start-up order:
 *   enrolment (must hold ≥ minClients) -> <dataDir>/<task.id>/ -> checkpoint or
 *   initial model -> audit log (torn tail repaired; the last 50 attempts seed the
 *   status history) -> console token (<dataDir>/console-token) and console files ->
 *   unmask pool -> listen -> the round loop.
 * Every start-up failure rejects with a message that names the field or file.
 *
 * close() is idempotent: it stops the round loop (a round in progress is aborted and
 * audited), closes every client with 1001, stops listening and ends the worker pool.
 */
import { join } from 'node:path';
import { createUnmaskPool, osRandom, type RandomSource, type UnmaskPool } from '@tally/secagg';
import { ProtocolError, ProtocolErrorCode, type TaskDescriptor, type WireLimits } from '@tally/wire';
import { ConfigError } from './_assert.ts';
import { AuditLog, AUDIT_FILE } from './audit-log.ts';
import { acquireDirLock } from './lock.ts';
import { CHECKPOINT_FILE, ensureDir, loadCheckpoint, readInitialModel } from './checkpoint.ts';
import { ClientRegistry } from './clients.ts';
import { FRAME_SLACK_BYTES, dpPlanOf, quantPlanOf, type CoordinatorConfig } from './config.ts';
import { dpParamsOf } from './dp-config.ts';
import { DpSpend } from './dp-spend.ts';
import { ClientConnection, type Peer } from './connection.ts';
import { loadAssets } from './console/assets.ts';
import { ConsoleHttp } from './console/http.ts';
import { CoordinatorMetrics } from './console/metrics.ts';
import { ConsoleState } from './console/state.ts';
import { ensureConsoleToken } from './console/token.ts';
import { loadEnrolment, type Enrolment } from './enrolment.ts';
import { Emitter, type CoordinatorListener, type TaskSummary } from './events.ts';
import { createLogger, type Logger } from './logger.ts';
import { startTransport, type Transport } from './server.ts';
import { History, summaryOf, type Status } from './status.ts';
import { createStrategy } from './strategies.ts';
import { MAX_SHARE_CIPHERTEXT, Task, type TaskStart } from './task.ts';

/** Sent in Challenge.coordinatorVersion. */
export const COORDINATOR_VERSION = 'tally-coordinator/0.1.0';

/** Per encrypted share in a ShareKeys or UnmaskShares list: ciphertext or share plus msgpack framing. */
const PER_PEER_BYTES = MAX_SHARE_CIPHERTEXT + 32;

/**
 * ws `maxPayload` for a task: the largest frame an honest client sends. That is
 * MaskedInput (4 bytes per lane of the vector) or ShareKeys (one ciphertext per
 * neighbour, at most cohortSize - 1), plus 64 KiB for the envelope and small fields.
 */
export function maxPayloadFor(vectorLength: number, cohortSize: number): number {
  return 4 * vectorLength + cohortSize * PER_PEER_BYTES + FRAME_SLACK_BYTES;
}

export interface CoordinatorOptions {
  readonly config: CoordinatorConfig;
  /** Default: formatted lines on standard error. */
  readonly logger?: Logger;
  /** Randomness for nonces, sessions, cohorts and graphs. Default: the OS CSPRNG. Tests only may pass another. */
  readonly random?: RandomSource;
  /** Enrolment to use instead of reading config.enrolment (tests, embedders). */
  readonly enrolment?: Enrolment;
  /**
   * The round-1 model when there is no checkpoint and config.task.initialModel is
   * unset (e.g. an architecture's seeded initialisation, computed by the caller).
   * Must have task.modelLength finite weights. Default: all zeros.
   */
  readonly initialModel?: Float32Array;
  /** Unmasking worker threads (default: available parallelism, at most 8). */
  readonly unmaskThreads?: number;
}

export interface Coordinator {
  /** ws:// or wss:// URL clients connect to. */
  readonly url: string;
  readonly port: number;
  status(): Status;
  /** Resolves when the task has run its last round (finished) or the coordinator closed (not finished); rejects on a fatal I/O error. */
  readonly done: Promise<TaskSummary>;
  /** Idempotent. */
  close(): Promise<void>;
  /** Adds an event listener; returns the function that removes it. */
  on(listener: CoordinatorListener): () => void;
  /** The operator console: its address and the token that opens it (also in `tokenFile`). */
  readonly console: ConsoleAccess;
}

export interface ConsoleAccess {
  /** http:// or https:// address of the page. */
  readonly url: string;
  readonly token: string;
  /** `<dataDir>/console-token` (mode 0600). */
  readonly tokenFile: string;
  /** The page's address with the token in the fragment (never sent to the server, so never in an access log). */
  readonly link: string;
}

export async function startCoordinator(options: CoordinatorOptions): Promise<Coordinator> {
  // One coordinator per task folder (lock.ts), held until close().
  const lock = await acquireDirLock(join(options.config.dataDir, options.config.task.id));
  if (lock.tookOver !== null) (options.logger ?? createLogger()).warn(`${lock.path}: took over a stale lock (its process is gone): ${lock.tookOver}`);
  let running: Coordinator;
  try {
    running = await startLocked(options);
  } catch (err) {
    await lock.release();
    throw err;
  }
  return {
    ...running,
    async close() {
      await running.close();
      await lock.release();
    },
  };
}

async function startLocked(options: CoordinatorOptions): Promise<Coordinator> {
  const { config } = options;
  const { task, limits } = config;
  const logger = options.logger ?? createLogger();
  const random = options.random ?? osRandom;
  const emitter = new Emitter(logger);

  const enrolment = options.enrolment ?? (await loadEnrolment(config.enrolment));
  if (enrolment.clients.length < task.minClients) {
    throw new ConfigError('task.minClients', `the enrolment lists ${enrolment.clients.length} clients, fewer than task.minClients (${task.minClients}); enrol more clients or lower minClients`);
  }
  const plan = quantPlanOf(task);
  const dpPlan = dpPlanOf(task);
  const dpParams = dpPlan === null || task.dp === undefined ? null : dpParamsOf(task.dp, dpPlan, task.rounds);
  /** Lanes of one masked input: the DP layout (padded model + count) or the plain one. */
  const vectorLength = dpPlan?.vectorLength ?? plan.vectorLength;
  if (dpPlan !== null && task.dp !== undefined) {
    logger.info(
      `task ${task.id}: distributed DP (${task.dp.mechanism}) for ε = ${task.dp.epsilon} at δ = ${task.dp.delta} over ${task.rounds} rounds: noise multiplier ${dpPlan.noiseMultiplier.toPrecision(4)} for t = ${dpPlan.minSurvivors} survivors, ` +
        `σ² = ${dpPlan.localSigma2} per shop per lane, ${dpPlan.paddedLength} rotated lanes, ${dpPlan.bitsNeeded} of 32 bits used; shops weigh equally and report no metrics`,
    );
  }
  const strategy = createStrategy(task.strategy);
  const taskDir = join(config.dataDir, task.id);
  await ensureDir(taskDir);
  const descriptor: TaskDescriptor = {
    rounds: task.rounds,
    modelLength: task.modelLength,
    cohortSize: task.cohortSize,
    threshold: task.threshold ?? null,
    activeAdversary: task.activeAdversary,
    ...(dpParams === null ? {} : { dp: dpParams }),
  };

  // -- where to start
  const cp = await loadCheckpoint(taskDir, { taskId: task.id, modelLength: task.modelLength });
  let start: TaskStart;
  if (cp) {
    if (cp.strategy.strategy !== strategy.name) {
      throw new ConfigError(
        'task.strategy.name',
        `the checkpoint of round ${cp.round} was made with ${JSON.stringify(cp.strategy.strategy)}, the config says ${JSON.stringify(strategy.name)}; a strategy cannot change mid-task: restore the old name or start a new task id`,
      );
    }
    if (JSON.stringify(cp.strategyConfig) !== JSON.stringify(strategy.config)) {
      logger.warn(`task.strategy hyperparameters differ from the checkpoint's (${JSON.stringify(cp.strategyConfig)}); continuing with the config's`);
    }
    start = { round: cp.round + 1, model: cp.weights, state: cp.strategy, resumedFrom: cp.round };
    logger.info(
      cp.round >= task.rounds
        ? `task ${task.id}: the checkpoint of round ${cp.round} (${cp.createdAt}) completes all ${task.rounds} rounds; nothing to do`
        : `task ${task.id}: resuming at round ${cp.round + 1} of ${task.rounds} from the checkpoint of ${cp.createdAt}`,
    );
  } else {
    const given = task.initialModel === undefined ? options.initialModel : undefined;
    if (given !== undefined && (given.length !== task.modelLength || !given.every(Number.isFinite))) {
      throw new RangeError(`initialModel: expected ${task.modelLength} finite weights (task.modelLength), got ${given.length}`);
    }
    const model = given === undefined ? await readInitialModel(task.initialModel, task.modelLength) : Float32Array.from(given);
    start = { round: 1, model, state: strategy.initState(task.modelLength), resumedFrom: null };
    logger.info(`task ${task.id}: starting at round 1 of ${task.rounds} from ${task.initialModel ?? (given === undefined ? 'an all-zero model' : "the model declaration's initial weights")}`);
  }

  const { log: audit, contents } = await AuditLog.open(join(taskDir, AUDIT_FILE));
  if (contents.torn) logger.warn(`${audit.path}: the last line was torn (an interrupted write) and has been cut off`);
  if (cp?.audit && !contents.records.some((r) => r.round === cp.round && r.status === 'committed')) {
    // The process died between the checkpoint (the commit) and the audit append.
    logger.warn(`${audit.path}: round ${cp.round} was committed but its audit line is missing (a crash right after the checkpoint); restoring it from ${CHECKPOINT_FILE}`);
    await audit.append(cp.audit);
    contents.records.push(cp.audit);
  }
  const history = new History();
  for (const r of contents.records.slice(-50)) history.push(summaryOf(r));
  // Forgers named in earlier rounds stay excluded across a restart: the audit log is the record.
  const forgers = [...new Set(contents.records.flatMap((r) => r.forgers ?? []))].sort((a, b) => a - b);
  if (forgers.length > 0) logger.warn(`task ${task.id}: client(s) ${forgers.join(', ')} revealed forged shares in earlier rounds (${AUDIT_FILE}); still excluded from this task's rounds`);

  const access = await ensureConsoleToken(config.dataDir);
  if (access.tightened) logger.warn(`${access.file} was readable by other users; its mode is now 0600`);
  const assets = await loadAssets();

  const pool: UnmaskPool = createUnmaskPool(options.unmaskThreads === undefined ? {} : { threads: options.unmaskThreads });
  // Start the unmasking threads while clients connect, not during the first round, at the vector length the rounds will unmask.
  pool.warm(vectorLength).catch((err: unknown) => logger.warn(`unmask threads failed to start early (${err instanceof Error ? err.message : String(err)}); they will be retried on first use`));
  const clients = new ClientRegistry<ClientConnection>();
  let transportRef: Transport | null = null;
  const metrics = new CoordinatorMetrics({
    connected: () => clients.size,
    enrolled: enrolment.clients.length,
    traffic: () => transportRef?.traffic() ?? { bytesIn: 0, bytesOut: 0 },
  });
  // The round loop sees the pool; the metrics see how long each unmask took.
  const timedPool: UnmaskPool = {
    threads: pool.threads,
    unmask: async (plan) => {
      const t0 = performance.now();
      try {
        return await pool.unmask(plan);
      } finally {
        metrics.unmask(performance.now() - t0);
      }
    },
    warm: (lanes) => pool.warm(lanes),
    close: () => pool.close(),
  };
  const taskRun = new Task({
    config,
    plan,
    enrolment,
    clients: clients as ClientRegistry<Peer>,
    strategy,
    pool: timedPool,
    audit,
    taskDir,
    history,
    logger,
    random,
    emit: (e) => emitter.emit(e),
    start,
    dp: dpPlan === null || dpParams === null || task.dp === undefined ? null : { plan: dpPlan, params: dpParams, spend: new DpSpend(dpPlan, task.dp.delta, contents.records) },
    forgers,
  });

  const wireLimits: Partial<WireLimits> = {
    maxCohort: task.cohortSize,
    maxVectorLength: vectorLength,
    expectedVectorLength: vectorLength,
    maxCiphertextBytes: MAX_SHARE_CIPHERTEXT,
    // Each frame comes fresh from its socket and is not read again after parsing: a masked input stays in it (WireLimits.frameOwned).
    frameOwned: true,
  };

  const status = (): Status => ({
    task: { id: task.id, rounds: task.rounds, modelLength: task.modelLength, metrics: task.metrics, strategy: strategy.name },
    round: taskRun.round,
    stage: taskRun.stage,
    finished: taskRun.finished,
    connectedClients: clients.peers().map((c) => ({ id: c.id, name: c.name })),
    history: history.list(),
  });

  const consoleState = new ConsoleState(
    { config, strategy: strategy.name, enrolment, connected: (id) => clients.has(id), task: () => ({ round: taskRun.round, stage: taskRun.stage, finished: taskRun.finished }) },
    contents.records,
  );
  let current = { round: start.round - 1, weights: start.model };
  const consoleHttp = new ConsoleHttp({
    token: access.token,
    state: consoleState,
    assets,
    metrics,
    status,
    model: () => current,
    taskId: task.id,
    logger,
  });
  emitter.on((e) => {
    if (e.type === 'round') {
      consoleState.record(e.record);
      metrics.round(e.record);
      if (e.model !== null) current = { round: e.summary.round, weights: e.model };
    } else if (e.type === 'stage') {
      metrics.stage(e.report);
    }
    consoleState.event(e);
    consoleHttp.changed();
  });

  let transport: Transport;
  try {
    transport = await startTransport({
      listen: config.listen,
      limits,
      maxPayload: maxPayloadFor(vectorLength, task.cohortSize),
      status,
      logger,
      http: (req, res) => consoleHttp.handle(req, res),
      accept: (ws, remote) => {
        const conn = new ClientConnection(
          ws,
          remote,
          {
            enrolment,
            limits: wireLimits,
            logger,
            authenticated: (c) => {
              if (!clients.add(c)) {
                return new ProtocolError(ProtocolErrorCode.Duplicate, `client ${c.id} is already connected; close the other connection or wait for it to time out`);
              }
              logger.info(`client ${c.label} connected from ${c.remote} (${clients.size} connected)`);
              emitter.emit({ type: 'client-connected', id: c.id, name: c.name });
              return null;
            },
            message: (c, msg) => taskRun.handleMessage(c, msg),
            closed: (c, code, reason) => {
              if (!clients.remove(c)) return;
              const why = `disconnected (close code ${code}${reason ? `: ${reason}` : ''})`;
              logger.info(`client ${c.label} ${why} (${clients.size} connected)`);
              taskRun.handleDisconnect(c, 'disconnected');
              emitter.emit({ type: 'client-disconnected', id: c.id, name: c.name, code, reason });
            },
          },
          { taskId: task.id, task: descriptor, coordinatorVersion: COORDINATOR_VERSION, authTimeoutMs: limits.authTimeoutMs, maxBufferedBytes: limits.maxBufferedBytes, random },
        );
        // After the last round nobody has anything to do here: same close as everyone got.
        if (taskRun.finished) {
          // The final model first: a shop that missed the end still gets it (the frame is queued before the close).
          taskRun.broadcastModel(undefined, true, [conn as Peer]);
          conn.close(1000, 'task complete');
        }
        return conn;
      },
    });
  } catch (err) {
    await pool.close();
    throw err;
  }
  transportRef = transport;
  const consoleUrl = `${transport.url.replace(/^ws/, 'http')}/`;
  const consoleAccess: ConsoleAccess = { url: consoleUrl, token: access.token, tokenFile: access.file, link: `${consoleUrl}#token=${access.token}` };
  logger.info(`listening on ${transport.url} (console at ${consoleUrl}, token in ${access.file}), maxPayload ${maxPayloadFor(vectorLength, task.cohortSize)} bytes`);

  let closing: Promise<void> | undefined;
  const shutdown = async (code: number, reason: string): Promise<void> => {
    taskRun.stop();
    await loop.catch(() => undefined);
    consoleHttp.close();
    await transport.close(code, reason);
    await pool.close();
    await audit.close();
  };

  const loop = taskRun.run();
  const done = loop.then(
    async (summary) => {
      if (summary.finished) {
        logger.info(`task ${task.id} complete: round ${summary.lastRound} of ${task.rounds} committed; closing client connections`);
        // Clients are done; the console and GET /status keep answering until close().
        for (const c of clients.peers()) c.close(1000, 'task complete');
      }
      emitter.emit({ type: 'done', summary });
      return summary;
    },
    async (err: unknown) => {
      logger.error(`task ${task.id} stopped: ${(err as Error).message}; fix the cause (disk full? permissions on ${taskDir}?) and restart: the coordinator resumes from the last checkpoint`);
      closing ??= shutdown(1011, 'coordinator failure');
      await closing;
      throw err;
    },
  );

  return {
    url: transport.url,
    port: transport.port,
    status,
    done,
    close() {
      closing ??= shutdown(1001, 'coordinator shutting down');
      return closing;
    },
    on: (listener) => emitter.on(listener),
    console: consoleAccess,
  };
}
