/** `tally client`: one shop's node, with the trainer its config names. */
import { readFile } from 'node:fs/promises';
import { ConfigError, Ledger, parseClientConfig, startClientNode, type GlobalModel } from '@tally/client';
import { maskKernel, toHex } from '@tally/secagg';
import { readJsonFile } from '../config-file.ts';
import { EXIT, UsageError, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';
import { KeyFileError, readKeyFile } from '../key-file.ts';
import { createCliLogger, type LogFormat } from '../log.ts';
import { clientStateDir } from '../state-dir.ts';
import { buildTrainer, parseTrainerConfig } from '../trainer-config.ts';

export interface ClientArgs {
  readonly config: string;
  readonly verbose: boolean;
  readonly logFormat?: LogFormat;
}

export async function client(args: ClientArgs, io: Io): Promise<ExitCode> {
  const { json, baseDir } = await readJsonFile(args.config, 'client config');
  const where = (err: ConfigError): UsageError => new UsageError(`client config ${args.config}: ${err.message}`);
  let config;
  let built;
  const early: string[] = [];
  // The demand trainer reports data problems when the task's declaration arrives: to the log once it exists.
  let warnSink = (line: string): void => {
    early.push(line);
  };
  try {
    config = parseClientConfig(json, baseDir);
    built = await buildTrainer(parseTrainerConfig(config.trainer, baseDir), 'trainer', (line) => warnSink(line), baseDir, clientStateDir(args.config, config.stateDir));
  } catch (err) {
    if (err instanceof ConfigError) throw where(err);
    throw err;
  }
  let identity;
  try {
    const key = await readKeyFile(config.keyFile);
    identity = key.pair;
    if (key.looseMode !== null) {
      io.err(`warning: key file ${config.keyFile} is readable by others (mode ${key.looseMode.toString(8).padStart(4, '0')}); run: chmod 600 ${config.keyFile}`);
    }
  } catch (err) {
    if (err instanceof KeyFileError) throw where(new ConfigError('keyFile', err.message));
    throw err;
  }
  let ca: Buffer | undefined;
  if (config.ca !== undefined) {
    try {
      ca = await readFile(config.ca);
    } catch (err) {
      throw where(new ConfigError('ca', `cannot read ${config.ca}: ${(err as Error).message}`));
    }
  }

  const log = createCliLogger((line) => io.err(line), 'client', args.verbose ? 'debug' : 'info', args.logFormat ?? 'text');
  const stateDir = clientStateDir(args.config, config.stateDir);
  let ledger: Ledger;
  try {
    ledger = await Ledger.open(stateDir);
  } catch (err) {
    throw where(new ConfigError('stateDir', `cannot open the privacy ledger in ${stateDir}: ${(err as Error).message}`));
  }
  const p = config.policy;
  log.info(`public key ${toHex(identity.publicKey)}; coordinator ${config.coordinator}`);
  log.info(
    `policy: tasks ${p.tasks.join(', ')}; cohort ≥ ${p.minCohort}; threshold ≥ ${p.minThreshold}; at most ${p.maxRounds} rounds; ${p.allowPassive === true ? 'passive mode allowed' : 'active mode required'}`,
  );
  log.info(`privacy ledger: ${ledger.path} (read it with: tally ledger --config ${args.config})`);
  if (config.peers !== undefined) log.info(`peers: ${config.peers.enrolled.size} enrolled clients from ${config.peers.file}; every round's roster is checked against them`);
  log.info(`trainer: ${built.description}`);
  const kernel = maskKernel();
  log.info(`mask kernel: ${kernel.name} (${kernel.detail})`);
  for (const line of [...built.warnings, ...early]) log.warn(line);
  warnSink = (line) => log.warn(line);
  const modelDir = config.modelDir;
  log.info(modelDir === undefined ? 'no modelDir: the global models the coordinator sends are not saved' : `global models are saved in ${modelDir}`);
  const trainerBuilt = built;
  // Saves run one after another; the last is awaited before the command returns.
  let saving: Promise<void> = Promise.resolve();

  const node = startClientNode({
    url: config.coordinator,
    identity,
    trainer: built.trainer,
    policy: config.policy,
    ...(config.peers === undefined ? {} : { enrolled: config.peers.enrolled }),
    logger: log,
    ledger,
    reconnect: config.reconnect,
    ...(modelDir === undefined
      ? {}
      : {
          onModel: (m: GlobalModel) => {
            saving = saving.then(async () => {
              try {
                const note = await trainerBuilt.saveModel(modelDir, m.model, { taskId: m.taskId, round: m.round, final: m.final });
                log.info(`saved the ${m.final ? 'final' : 'global'} model of round ${m.round} in ${modelDir}`);
                if (typeof note === 'string') log.info(note);
              } catch (err) {
                log.error(`could not save the model of round ${m.round} in ${modelDir}: ${(err as Error).message}`);
              }
            });
          },
        }),
    ...(ca === undefined ? {} : { ca }),
    // The participation record lives beside the ledger, so a restart resets neither.
    stateDir,
    ...(built.modelLength === null ? {} : { modelLength: built.modelLength }),
  });
  const unsubscribe = io.onInterrupt(() => {
    log.info('interrupted: closing the connection');
    void node.close();
  });
  try {
    const result = await node.done;
    await node.close();
    await saving;
    await ledger.flush();
    const s = node.stats();
    const line = `stopped: ${result.reason}; contributed to ${result.rounds} round(s), ${s.roundsCommitted} committed, ${s.roundsAborted} aborted`;
    if (result.status === 'completed') {
      log.info(line);
      return EXIT.ok;
    }
    if (result.status === 'rejected') {
      log.error(line);
      return EXIT.failure;
    }
    if (result.status === 'incompatible') {
      // This client's own setup (consent, policy, model, key, TLS) can never work with this task: a configuration error.
      log.error(line);
      return EXIT.usage;
    }
    log.info(line);
    return EXIT.interrupted;
  } finally {
    unsubscribe();
  }
}
