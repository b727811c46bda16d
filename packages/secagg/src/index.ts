/** @tally/secagg: secure aggregation (Bonawitz et al. 2017, SecAgg+ graph of Bell et al. 2020). Pure: no I/O. */

export * from './messages.ts';
export { SecAggError, SecAggErrorCode } from './errors.ts';
export { osRandom } from './random.ts';
export type { RandomSource } from './random.ts';
export { concatBytes, equalBytes, fromHex, lp, toHex, u32be, utf8 } from './bytes.ts';
export { KdfLabel, deriveKey, hkdfSha256 } from './hkdf.ts';
export type { RoundContext } from './hkdf.ts';
export { addMask, maskKeystream, aesCtrKeystreamFloor } from './prg.ts';
export { generateIdentity, generateX25519, signMessage, verifySignature, x25519PublicKey, x25519Shared } from './keys.ts';
export type { KeyPair } from './keys.ts';
export { FIELD_PRIME, SHARE_BYTES, combineShares, splitSecret } from './shamir.ts';
export type { Share } from './shamir.ts';
export { completeGraph, hararyGraph } from './graph.ts';
export type { Graph } from './graph.ts';
export { chooseParams, validateParams } from './params.ts';
export { decodeSum, encodeUpdate, planQuantization } from './quantize.ts';
export type { QuantConfig, QuantPlan } from './quantize.ts';
export { CLIENT_EXPECTS, clientStep, createClient, maskInput } from './client.ts';
export type { ClientOptions, ClientState, ClientStep } from './client.ts';
export { SERVER_EXPECTS, buildUnmaskPlan, serverStep, startServer } from './server.ts';
export type { Drop, PlanInput, RevealSummary, ServerEvent, ServerOptions, ServerOutcome, ServerOutMessage, ServerState, ServerStep } from './server.ts';
export { maskJobs, removeMask, unmask } from './unmask.ts';
export type { MaskJob, UnmaskPlan } from './unmask.ts';
export { createUnmaskPool } from './unmask-pool.ts';
export type { UnmaskPool, UnmaskPoolOptions } from './unmask-pool.ts';
export { simulateRound } from './simulation.ts';
export type { SimulationOptions, SimulationResult } from './simulation.ts';
