// Entry point of an unmask worker thread. The sources are TypeScript run through
// tsx, and a worker thread does not inherit the parent's module hooks, so register
// tsx here before loading the worker body. (If the package is ever compiled to JS,
// change spawnWorker() in unmask-pool.ts, the one place that starts it.)
import { register } from 'tsx/esm/api';

register();
await import('./unmask-worker.ts');
