/** @tally/cli: the `tally` command and the pieces it composes (for tests and embedders). */

export { main } from './main.ts';
export { processIo } from './io.ts';
export type { Io } from './io.ts';
export { EXIT, RuntimeError, UsageError } from './exit-codes.ts';
export type { ExitCode } from './exit-codes.ts';
export { KeyFileError, keyFileJson, readKeyFile, writeKeyFile } from './key-file.ts';
export type { LoadedKey } from './key-file.ts';
export { CsvError, parseNumericCsv } from './csv.ts';
export type { NumericTable } from './csv.ts';
export { LINEAR_DEFAULTS, createLinearTrainer, datasetFromTable, meanSquaredError } from './linear-trainer.ts';
export type { Dataset, LinearTrainerOptions } from './linear-trainer.ts';
export { TRAINER_KINDS, buildTrainer, parseTrainerConfig } from './trainer-config.ts';
export type { BuiltTrainer, LinearCsvConfig, TrainerConfig } from './trainer-config.ts';
export type { ModuleTrainerConfig, TrainerFactory, TrainerFactoryContext } from './trainer-module.ts';
export type { Trainer, TrainInput, TrainOutput } from '@tally/client';
export { createCliLogger, formatLine } from './log.ts';
export type { CliLogger } from './log.ts';
