/**
 * Where an unmask worker thread's code lives; the one place that knows.
 *
 * - Built package (dist/*.js, what npm users run): the compiled `unmask-worker.js`
 *   beside this module. Plain Node, no loader.
 * - Workspace sources (tsx, vitest; this module is `*.ts`): `unmask-worker-entry.mjs`,
 *   a development-only entry that registers tsx first, because a worker thread does
 *   not inherit its parent's module hooks. It is not compiled and not published.
 */
export function unmaskWorkerUrl(): URL {
  const fromSources = import.meta.url.endsWith('.ts');
  return new URL(fromSources ? './unmask-worker-entry.mjs' : './unmask-worker.js', import.meta.url);
}
