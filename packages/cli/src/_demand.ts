/** The CLI's one door to @tally/demand and @tally/ml (TF.js): import this module only with `await import()`. */
export {
  DemandShopTrainer,
  SalesCsvError,
  forecastCsv,
  forecastShop,
  forecastSvg,
  forecastTable,
  initBackend,
  initialWeights,
  parseDemandSpec,
  parseSalesCsv,
  writeDemandModel,
} from '@tally/demand';
export type { Forecast, SalesIssue, SalesTable } from '@tally/demand';
