// Entry point of a client-hosting worker of bench/round.ts. A worker thread does
// not inherit the parent's module hooks, so tsx is registered here before the
// TypeScript body is loaded (as packages/secagg/src/unmask-worker-entry.mjs does).
import { register } from 'tsx/esm/api';

register();
await import('./round-worker.ts');
