/**
 * @tally/example-demand-forecast: several shops, one shared next-day demand model.
 * Synthetic data (data.ts) → per-shop features (features.ts) → model (model.ts) →
 * FedAvg reference loop (federated.ts) and baselines (baselines.ts) → evaluation
 * (evaluate.ts) → report and charts (report.ts, plot.ts). `prepareShops` is the entry
 * point for `tally simulate`, whose orchestration is `simulate` (simulate.ts).
 */
export { DEFAULT_CONFIG, DEFAULT_TRAINING, resolveConfig } from './config.ts';
export type { DemandConfig, DemandConfigInput, TrainingConfig } from './config.ts';
export { DEFAULT_GENERATOR, HOLIDAYS, NO_RECORD, STEADY_SHOPS, generateSales, intermittency, isHolidayEve, validateGeneratorConfig } from './data.ts';
export type { GeneratorConfig, Intermittency, ProductInfo, SalesData, ShopSeries } from './data.ts';
export { prepareShop, select, validationWindow } from './rows.ts';
export type { PreparedShop, Rows } from './rows.ts';
export { BASE_FEATURES, DEFAULT_FEATURES, LAG_WINDOW, MIN_SCALE, buildShopDataset, concatSplits, featureNames } from '@tally/demand';
export type { FeatureConfig, ShopDataset, Split } from '@tally/demand';
export { DEFAULT_MODEL, createDemandModel, initialWeights } from '@tally/demand';
export type { ModelConfig } from '@tally/demand';
export { prepareShops } from './prepare.ts';
export type { PrepareOptions, PreparedShops } from './prepare.ts';
export { TASK_ID, globalTrainingLoss, pooledTestWape, runFedAvg } from './federated.ts';
export type { FedAvgOptions, FedAvgResult, RoundRecord } from './federated.ts';
export { DEFAULT_EARLY_STOPPING, absErrors, fitWithStopping, trainCentralised, trainLocalOnly, validationWape } from './baselines.ts';
export { CANDIDATES, chooseModel, personalise } from './personalise.ts';
export type { Candidate, FinalChoice, MixPart, PersonaliseOptions, ShopChoice } from './personalise.ts';
export { BLEND_GRID, blendForecast, chooseBlend, personalBlend } from '@tally/demand';
export type { BlendChoice } from '@tally/demand';
export { RIDGE_GRID, fitPoisson, fitShopGlm, glmForecast } from './glm.ts';
export type { GlmFit } from './glm.ts';
export { runArms } from './arms.ts';
export type { ArmsResult, ArmsTimings } from './arms.ts';
export { GROUPS, groupSummaries } from './groups.ts';
export type { GroupName, GroupSummary } from './groups.ts';
export type { BaselineOptions, BaselineResult, EarlyStopping } from './baselines.ts';
export { METHODS, denormalise, errorMetrics, evaluateAll, mae, median, summarise, wape } from './evaluate.ts';
export type { ErrorMetrics, EvaluationReport, EvaluationSummary, Method, ModelWeights, ShopEvaluation } from './evaluate.ts';
export { runExperiment } from './experiment.ts';
export type { ExperimentOptions, ExperimentResult, ExperimentTimings } from './experiment.ts';
export { REPORT_FILES, pickShop, writeReport } from './report.ts';
export type { ReportInput } from './report.ts';
export { forecastChartSvg, lineChartSvg, lossChartSvg } from './plot.ts';
export type { Band, LineChart, Series } from './plot.ts';
export { createRng, mixSeed } from './rng.ts';
export type { Rng } from './rng.ts';
export { DEFAULT_SIMULATE_DP_DELTA, DROPOUT_STAGES, MAX_ABORTS_PER_ROUND, MAX_ROUNDS, MAX_SHOPS, SIMULATE_DEFAULTS, SIMULATE_DP_BUDGET_FACTOR, SIMULATION_DEADLINES, SIMULATION_QUANT, SimulateOptionError, checkDpOption, progressLine, resolveSimulateOptions, roundJson, simulate, simulationJson } from './simulate.ts';
export type { DropoutStage, SimulateHooks, SimulateOptions, SimulateResult, SimulateTaskOverrides, SimulatedDrop, SimulatedRound, SimulationTimings } from './simulate.ts';
export { UpdateRecorder, checkAggregate } from './secure-check.ts';
export type { AggregateCheck, AggregateCheckInput, CheckPlan, RecordedUpdate } from './secure-check.ts';
export { LOSS_TOLERANCE, NEW_SHOP_DAYS, NEW_SHOP_GAIN, TARGETS, checkTargets } from './targets.ts';
export type { TargetName, TargetResult } from './targets.ts';
export { summaryLines } from './simulate-summary.ts';
