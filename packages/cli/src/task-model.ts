/**
 * The coordinator config's `task.model` as the CLI knows it. For `"kind": "demand"`
 * the declaration is checked (spec.ts of @tally/demand, which loads no TF.js), its
 * defaults are written out so every client sees the same declaration, and
 * task.modelLength is filled in from the architecture (or checked against it).
 * Other kinds pass through unchecked (the coordinator sends them as they are).
 */
import { DEMAND_MODEL_KIND, SpecError, demandFederatedCount, demandInputs, parseDemandSpec, specJson } from '@tally/demand/spec';
import { parseCoordinatorConfig, type CoordinatorConfig } from '@tally/coordinator';
import { isConfigError, readJsonFile } from './config-file.ts';
import { UsageError } from './exit-codes.ts';

/** Where the coordinator writes the final model, inside <dataDir>/<task.id>/. */
export const FINAL_MODEL_DIR = 'final-model';

/** Rewrites `json.task.model` and `json.task.modelLength` in place for a demand task. Throws UsageError naming the field. */
export function resolveTaskModel(json: unknown, file: string): void {
  const task = (json as { task?: unknown } | null)?.task;
  if (typeof task !== 'object' || task === null) return;
  const t = task as Record<string, unknown>;
  const model = t['model'] as { kind?: unknown } | undefined;
  if (typeof model !== 'object' || model === null || model.kind !== DEMAND_MODEL_KIND) return;
  let spec;
  try {
    spec = parseDemandSpec(model, 'task.model');
  } catch (err) {
    if (err instanceof SpecError) throw new UsageError(`coordinator config ${file}: ${err.message}`);
    throw err;
  }
  // With `"federated": "body"` only the body travels: the vector the coordinator offers, sums and stores is the body alone.
  const expected = demandFederatedCount(spec);
  if (t['modelLength'] === undefined) t['modelLength'] = expected;
  else if (t['modelLength'] !== expected) {
    throw new UsageError(
      `coordinator config ${file}: task.modelLength: the declared demand model (${spec.products.length} products, hidden ${JSON.stringify(spec.hidden)}${spec.federated === 'body' ? ', body federated' : ''}) has ${expected} federated weights, got ${JSON.stringify(t['modelLength'])}: set it to ${expected}, or leave it out`,
    );
  }
  t['model'] = JSON.parse(specJson(spec)) as unknown;
}

/** The kind a declaration (JSON text) names, or undefined. */
export function declaredKind(modelSpec: string | undefined): string | undefined {
  if (modelSpec === undefined) return undefined;
  const kind = (JSON.parse(modelSpec) as { kind?: unknown }).kind;
  return typeof kind === 'string' ? kind : undefined;
}

/** Round-1 weights for a declared TF.js model (seeded initialisation; the body alone when only the body is federated), loading TF.js; undefined for other kinds. */
export async function declaredInitialModel(modelSpec: string | undefined): Promise<Float32Array | undefined> {
  if (declaredKind(modelSpec) !== DEMAND_MODEL_KIND) return undefined;
  const demand = await import('./_demand.ts');
  await demand.initBackend({ logger: { info: () => {}, warn: () => {} } });
  const spec = demand.parseDemandSpec(JSON.parse(modelSpec!));
  return demand.initialWeights(demandInputs(spec), { hidden: spec.hidden, seed: spec.seed }).slice(0, demandFederatedCount(spec));
}

/**
 * Reads and validates a coordinator config the way every command that takes one does:
 * the demand declaration first (it fixes task.modelLength), then the config itself.
 * A config error becomes a UsageError naming the file (exit 2).
 */
export async function readCoordinatorConfig(file: string): Promise<CoordinatorConfig> {
  const { json, baseDir } = await readJsonFile(file, 'coordinator config');
  resolveTaskModel(json, file);
  try {
    return parseCoordinatorConfig(json, baseDir);
  } catch (err) {
    if (isConfigError(err)) throw new UsageError(`coordinator config ${file}: ${err.message}`);
    throw err;
  }
}
