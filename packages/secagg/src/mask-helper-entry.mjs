// Development-only entry of the mask helper thread, used when the workspace runs its
// TypeScript sources (tsx, vitest): a worker thread does not inherit the parent's module
// hooks, so register tsx before loading the worker body. The built package starts
// dist/mask-helper-worker.js directly (see mask-helper.ts); this file is not published.
import { register } from 'tsx/esm/api';

register();
await import('./mask-helper-worker.ts');
