/** The fixed part of the feature table (features.ts), without TensorFlow.js so spec.ts can size a model. */

/** Days of history a row needs for its lags. */
export const LAG_WINDOW = 28;
/** Number of non-product columns. */
export const BASE_FEATURES = 17;
