/**
 * Mismatches that retrying cannot fix, found as early as possible: at authentication
 * from the coordinator's task descriptor (Welcome.task), or at connect time from the
 * TLS handshake. Each check returns the message for the shop's operator (what is wrong,
 * which setting to change), or null. The node stops with status 'incompatible' (the
 * CLI exits 2, like any configuration error) instead of retrying for ever.
 */
import { connect as tlsConnect } from 'node:tls';
import type { TaskDescriptor } from '@tally/wire';
import type { Policy } from './policy.ts';
import { emptySpent, type DpSpent } from './dp-budget-store.ts';
import { checkDp } from './dp-consent.ts';

/** Whether this client can ever take part in the coordinator's task. */
export function checkTask(taskId: string, task: TaskDescriptor | undefined, policy: Policy, modelLength: number | undefined, spent: DpSpent = emptySpent()): string | null {
  if (!policy.tasks.includes(taskId)) {
    return `the coordinator runs task ${JSON.stringify(taskId)}, which this client does not consent to (policy.tasks: ${policy.tasks.map((t) => JSON.stringify(t)).join(', ')}): add it to policy.tasks if the shop agrees to train it, or point coordinator at the right server`;
  }
  if (task === undefined) return null; // an older coordinator: each offer is still checked
  if (task.cohortSize < policy.minCohort) {
    return `task ${taskId} offers rounds of at most ${task.cohortSize} clients (task.cohortSize), below this client's policy.minCohort (${policy.minCohort}): no round can satisfy the policy; lower policy.minCohort if the shop accepts smaller cohorts, or ask the operator to raise task.cohortSize`;
  }
  if (task.threshold !== null && task.threshold < policy.minThreshold) {
    return `task ${taskId} fixes the Shamir threshold at ${task.threshold} (task.threshold), below this client's policy.minThreshold (${policy.minThreshold}): no round can satisfy the policy; lower policy.minThreshold, or ask the operator to raise task.threshold`;
  }
  if (!task.activeAdversary && policy.allowPassive !== true) {
    return `task ${taskId} runs in honest-but-curious mode (task.activeAdversary false), which this client refuses: set policy.allowPassive to true if the shop trusts the coordinator, or ask the operator for activeAdversary`;
  }
  if (modelLength !== undefined && task.modelLength !== modelLength) {
    return `task ${taskId} has a model of ${task.modelLength} weights (task.modelLength), but this client's trainer produces ${modelLength}: the data's features and the task's model disagree; fix the trainer's data or ask the operator to set task.modelLength to ${modelLength}`;
  }
  // Differential privacy: required but absent, inconsistent parameters, or one round
  // dearer than the shop's whole budget. A budget spent by earlier rounds is not a
  // mismatch: the first offer ends the node normally (round.ts).
  const dp = checkDp(policy, { taskId, threshold: task.threshold, cohortSize: task.cohortSize, modelLength: task.modelLength, dp: task.dp }, spent);
  if (dp.kind === 'refuse' && dp.refusal.permanent) {
    return dp.refusal.reason === 'DECLINE_DP_BUDGET' || task.dp === undefined
      ? dp.refusal.message
      : `task ${taskId} declares differential-privacy parameters this client refuses: ${dp.refusal.message}`;
  }
  if (dp.kind === 'refuse' && task.dp !== undefined && dp.refusal.reason === 'DECLINE_BAD_DP') {
    return `task ${taskId} declares differential-privacy parameters this client refuses: ${dp.refusal.message}`;
  }
  return null;
}

/** TLS errors that mean the client does not trust the coordinator's certificate (node:tls / OpenSSL codes). */
const TRUST_CODES: Readonly<Record<string, string>> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: 'its certificate is self-signed',
  SELF_SIGNED_CERT_IN_CHAIN: 'its certificate chain ends in a self-signed CA this client does not trust',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'its certificate is signed by a CA this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'its certificate is signed by a CA this client does not trust',
  UNABLE_TO_GET_ISSUER_CERT: 'its certificate is signed by a CA this client does not trust',
  CERT_HAS_EXPIRED: 'its certificate has expired',
  CERT_NOT_YET_VALID: 'its certificate is not valid yet',
  ERR_TLS_CERT_ALTNAME_INVALID: 'its certificate is for another host name',
};

/**
 * A connect error that no retry can fix: a TLS trust failure, or wss:// to a server
 * that speaks plain ws://. Null for anything else (refused, reset, timeouts: those retry).
 */
export function tlsProblem(err: Error & { code?: unknown }, url: string, hasCa: boolean): string | null {
  const code = typeof err.code === 'string' ? err.code : '';
  const why = TRUST_CODES[code];
  if (why !== undefined) {
    const fix =
      code === 'ERR_TLS_CERT_ALTNAME_INVALID' || code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID'
        ? 'ask the operator for a valid certificate for this address'
        : hasCa
          ? "the file in ca is not the coordinator's certificate or its CA: ask the operator for the right one"
          : "set ca in the client config to the coordinator's certificate (PEM), or to the CA that signed it";
    return `the TLS connection to ${url} is not trusted: ${why} (${code}), and this client has ${hasCa ? 'a ca that does not match' : 'no ca'}: ${fix}`;
  }
  if (code === 'ERR_SSL_WRONG_VERSION_NUMBER' || (code === 'EPROTO' && /wrong version number/.test(err.message))) {
    return `${url} uses wss://, but the coordinator there speaks plain ws:// (no TLS): use ws:// in coordinator, or enable listen.tls on the coordinator`;
  }
  return null;
}

/**
 * After a ws:// connection was reset before any HTTP answer: does the server speak TLS?
 * Then the URL's scheme is wrong, and retrying cannot help. One TLS handshake to the
 * same host and port, certificate not checked (only whether TLS answers at all).
 */
export function speaksTls(host: string, port: number, timeoutMs = 5_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host, port, rejectUnauthorized: false });
    const done = (v: boolean): void => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
  });
}
