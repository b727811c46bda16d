/**
 * @tally/demand: the demand model, in one place for the CLI (`trainer.kind: "demand"`,
 * `tally forecast`) and the simulation (examples/demand-forecast).
 * Calendar (calendar.ts) → a shop's export (sales-csv.ts, shop-sales.ts) → features
 * (features.ts) → model (model.ts) and its declaration (spec.ts) → one shop's trainer
 * (trainer.ts), its own model at the end of a task (personal.ts, blend.ts, stopping.ts)
 * → forecasts (forecast.ts, forecast-svg.ts). spec.ts is also reachable
 * as `@tally/demand/spec`, which loads no TensorFlow.js.
 */
export { DEFAULT_HOLIDAYS, HOLIDAYS, NO_RECORD, buildCalendar, holidayTest, isHolidayEntry, isHolidayEve, isoDay, isoOf } from './calendar.ts';
export type { Calendar } from './calendar.ts';
export { BASE_FEATURES, DEFAULT_FEATURES, LAG_WINDOW, MIN_SCALE, buildShopDataset, buildSplit, concatSplits, featureNames } from './features.ts';
export type { FeatureConfig, RowContext, SalesData, ShopDataset, ShopSeries, Split } from './features.ts';
export { DEFAULT_MODEL, createDemandModel, initialWeights } from './model.ts';
export type { ModelConfig } from './model.ts';
export {
  DEFAULT_HIDDEN,
  DEFAULT_SEED,
  DEMAND_MODEL_KIND,
  FEATURE_SPEC_VERSION,
  FEDERATED_PARTS,
  SPEC_LIMITS,
  SpecError,
  checkDemandOffer,
  demandFederatedCount,
  demandHeadCount,
  demandInputs,
  demandWeightCount,
  parseDemandSpec,
  specJson,
} from './spec.ts';
export type { DemandSpec, FederatedPart } from './spec.ts';
export { HEAD_FILE, HEAD_FORMAT, bodyOf, headOf, initialHead, joinBodyHead, loadHead, saveHead } from './local-head.ts';
export { DATE_FORMATS, DELIMITERS, ISSUE_KINDS, SalesCsvError, parseDate, parseSalesCsv } from './sales-csv.ts';
export type { DateFormat, Delimiter, IssueKind, SalesColumns, SalesCsvOptions, SalesIssue, SalesRecord, SalesTable } from './sales-csv.ts';
export { MIN_HISTORY_DAYS, shopSales } from './shop-sales.ts';
export type { ShopSales } from './shop-sales.ts';
export { NORMALISATION_FILE, NORMALISATION_FORMAT, loadNormalisation, saveNormalisation } from './normalisation.ts';
export type { Normalisation } from './normalisation.ts';
export { DEMAND_TRAINING_DEFAULTS, DemandShopTrainer, SPEC_FILE, describeChoice, writeDemandModel } from './trainer.ts';
export { BLEND_GRID, BLEND_MARGIN, BLEND_START, blendForecast, chooseBlend, personalBlend } from './blend.ts';
export type { BlendChoice } from './blend.ts';
export { fitWithStopping } from './stopping.ts';
export type { EarlyStoppingRule, StoppedFit } from './stopping.ts';
export {
  DEFAULT_PERSONAL_STOPPING,
  DEFAULT_VALIDATION_DAYS,
  PERSONAL_CHOICES,
  PERSONAL_DIR,
  PERSONAL_FILE,
  PERSONAL_FORMAT,
  personalParts,
  personaliseShop,
  readPersonalChoice,
  selectSplit,
  splitByDate,
  unitsForecast,
  validationWindow,
} from './personal.ts';
export type { PersonalChoice, PersonalFinal, PersonalModels, PersonaliseInput } from './personal.ts';
export type { DemandTrainingOptions, OfferedModel, SavedModelInfo } from './trainer.ts';
export { MAX_FORECAST_DAYS, forecastCsv, forecastShop, forecastTable } from './forecast.ts';
export type { Forecast, ForecastInput, ProductForecast } from './forecast.ts';
export { forecastSvg } from './forecast-svg.ts';
/** Backend choice for callers that reach TF.js only through this package (the CLI). */
export { initBackend } from '@tally/ml';
