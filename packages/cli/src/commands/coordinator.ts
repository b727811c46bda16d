/**
 * `tally coordinator`: run one task until its rounds are committed, then write the final
 * model. The console stays up after the last round (read-only, behind its token) until
 * Ctrl-C, unless --exit-on-complete (for scripts).
 */
import { join } from 'node:path';
import { loadEnrolment, parseCoordinatorConfig, startCoordinator, type Coordinator } from '@tally/coordinator';
import { maskKernel } from '@tally/secagg';
import { isConfigError, readJsonFile } from '../config-file.ts';
import { EXIT, RuntimeError, UsageError, errText, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';
import { createCliLogger, type LogFormat } from '../log.ts';
import { writeModelFolder } from '../model-files.ts';
import { FINAL_MODEL_DIR, declaredInitialModel, resolveTaskModel } from '../task-model.ts';

export interface CoordinatorArgs {
  readonly config: string;
  readonly verbose: boolean;
  readonly exitOnComplete?: boolean;
  readonly logFormat?: LogFormat;
}

export async function coordinator(args: CoordinatorArgs, io: Io): Promise<ExitCode> {
  const { json, baseDir } = await readJsonFile(args.config, 'coordinator config');
  resolveTaskModel(json, args.config);
  const where = (err: Error): UsageError => new UsageError(`coordinator config ${args.config}: ${err.message}`);
  let config;
  try {
    config = parseCoordinatorConfig(json, baseDir);
    await loadEnrolment(config.enrolment); // a config error: refuse before anything starts
  } catch (err) {
    if (isConfigError(err)) throw where(err);
    throw err;
  }
  const log = createCliLogger((line) => io.err(line), 'coordinator', args.verbose ? 'debug' : 'info', args.logFormat ?? 'text');
  let running: Coordinator;
  try {
    const initialModel = config.task.initialModel === undefined ? await declaredInitialModel(config.task.modelSpec) : undefined;
    running = await startCoordinator({ config, logger: log, ...(initialModel === undefined ? {} : { initialModel }) });
  } catch (err) {
    if (isConfigError(err)) throw where(err);
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new RuntimeError(`cannot listen on ${config.listen.host}:${config.listen.port}: the port is in use; stop the other process or change listen.port`);
    }
    throw new RuntimeError(`cannot start the coordinator: ${errText(err)}`);
  }
  log.info(`clients connect to ${running.url}`);
  const kernel = maskKernel();
  log.info(`mask kernel: ${kernel.name} (${kernel.detail})`);
  log.info(`console: ${running.console.url} (token in ${running.console.tokenFile}; print it with: tally console-token --config ${args.config})`);
  io.out(`console: ${running.console.link}`);

  let interrupted = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const unsubscribe = io.onInterrupt(() => {
    interrupted = true;
    wake();
    log.info('interrupted: aborting the round in progress and closing client connections (the next start resumes from the last checkpoint)');
    void running.close();
  });
  try {
    const summary = await running.done;
    if (summary.finished && !interrupted && args.exitOnComplete !== true) {
      log.info(`task ${summary.taskId} complete; the console stays up at ${running.console.url} until Ctrl-C (--exit-on-complete exits here)`);
      await stopped;
    }
    await running.close();
    const resumed = summary.resumedFrom === null ? '' : ` (resumed from round ${summary.resumedFrom})`;
    const line = `task ${summary.taskId}: ${summary.finished ? 'complete' : 'stopped'} at round ${summary.lastRound}; this run committed ${summary.committed}, aborted ${summary.aborted}${resumed}`;
    log.info(line);
    if (summary.finished) {
      log.info(`final model: [${Array.from(summary.model.subarray(0, 16), (v) => v.toPrecision(6)).join(', ')}${summary.model.length > 16 ? ', ...' : ''}]`);
      const dir = join(config.dataDir, config.task.id, FINAL_MODEL_DIR);
      const format = await writeModelFolder(dir, config.task.modelSpec, summary.model, { taskId: summary.taskId, round: summary.lastRound, final: true });
      log.info(`final model written to ${dir} (${format})`);
      return EXIT.ok;
    }
    return interrupted ? EXIT.interrupted : EXIT.failure;
  } catch (err) {
    await running.close().catch(() => undefined);
    throw new RuntimeError(`the coordinator stopped: ${errText(err)}`);
  } finally {
    unsubscribe();
  }
}
