// Development-only entry of an unmask worker thread, used when the workspace runs its
// TypeScript sources (tsx, vitest): a worker thread does not inherit the parent's module
// hooks, so register tsx before loading the worker body. The built package starts
// dist/unmask-worker.js directly (see unmask-worker-url.ts); this file is not published.
import { register } from 'tsx/esm/api';

register();
await import('./unmask-worker.ts');
