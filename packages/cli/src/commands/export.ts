/** `tally export`: the model of a coordinator checkpoint, as a model folder (model-files.ts). */
import { join, resolve } from 'node:path';
import { CheckpointError, loadCheckpoint } from '@tally/coordinator';
import { EXIT, RuntimeError, UsageError, type ExitCode } from '../exit-codes.ts';
import type { Io } from '../io.ts';
import { writeModelFolder } from '../model-files.ts';
import { readCoordinatorConfig } from '../task-model.ts';

export interface ExportArgs {
  readonly config: string;
  readonly out: string;
}

export async function exportCommand(args: ExportArgs, io: Io): Promise<ExitCode> {
  const config = await readCoordinatorConfig(args.config);
  const taskDir = join(config.dataDir, config.task.id);
  let cp;
  try {
    cp = await loadCheckpoint(taskDir, { taskId: config.task.id, modelLength: config.task.modelLength });
  } catch (err) {
    if (err instanceof CheckpointError) throw new RuntimeError(err.message);
    throw err;
  }
  if (cp === null) throw new RuntimeError(`no checkpoint in ${taskDir}: the task has not committed a round yet (or dataDir / task.id point elsewhere)`);
  const out = resolve(args.out);
  const format = await writeModelFolder(out, config.task.modelSpec, cp.weights, { taskId: config.task.id, round: cp.round, final: cp.round >= config.task.rounds });
  io.out(`wrote the model of round ${cp.round} of task ${config.task.id} to ${out} (${format})`);
  return EXIT.ok;
}
