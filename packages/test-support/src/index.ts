/** @tally/test-support (internal, never published): helpers every package's tests share. */
export { Lines } from './lines.ts';
export { cleanup, onCleanup, tempDir } from './cleanup.ts';
export { enrolmentJson, identities } from './identities.ts';
export { Mailbox } from './mailbox.ts';
export { TEST_TASK_ID, testCoordinatorConfig } from './coordinator-config.ts';
