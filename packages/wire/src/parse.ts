/**
 * parse(unknown) -> Message | ProtocolError, one function per direction. Every
 * field of the envelope and body is checked: exact key set (unknown keys are
 * refused), types, byte lengths, integer ranges, list sizes against WireLimits,
 * duplicate ids, and the consistency of ids within one message. Byte fields come
 * back as fresh plain Uint8Arrays and vectors as fresh aligned typed arrays, so a
 * parsed message shares no memory with the frame.
 *
 * What parse cannot know is the receiver's state: whether this is the right
 * session, round and stage, or whether an id is in this round's cohort. The
 * coordinator and client check those (see assertIdsIn).
 */

import type {
  AdvertCommitment,
  EncryptedShare,
  RevealedShare,
  RosterEntry,
  SignedAdvert,
  SurvivorSignature,
} from '@tally/secagg';
import { GRAPH_KINDS, PUBLIC_KEY_BYTES, SESSION_BYTES, SIGNATURE_BYTES } from '@tally/secagg';
import {
  UniqueIds,
  at,
  badField,
  describe,
  expectArray,
  expectBool,
  expectBytes,
  expectBytesUpTo,
  expectCount,
  expectFinite,
  expectId,
  expectInt,
  expectMap,
  expectOneOf,
  expectPattern,
  expectRound,
  expectString,
  hasKey,
  isPlainObject,
  tooLarge,
} from './_assert.ts';
import { ProtocolError, ProtocolErrorCode, isProtocolErrorCode } from './errors.ts';
import { resolveLimits, type WireLimits } from './limits.ts';
import {
  MAX_MODEL_SPEC_LENGTH,
  METRIC_NAME_PATTERN,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  ROUND_STATUSES,
  SESSION_SCOPED,
  TASK_ID_PATTERN,
  type ClientMessageType,
  type CoordinatorMessage,
  type CoordinatorMessageType,
  type NodeClientMessage,
  type DpParams,
  type QuantParams,
  type TaskDescriptor,
} from './messages.ts';
import { DP_MECHANISMS } from './messages.ts';
import { DECLINE_REASONS, ROUND_REASONS } from './reasons.ts';
import { expectF32Vector, expectU32Vector } from './vector.ts';

/** Ed25519 signatures are 64 bytes; in passive mode (no active adversary) adverts carry an empty one. */
const ADVERT_SIG_LENGTHS = [0, SIGNATURE_BYTES] as const;
/** SHA-256 advert commitments (secagg's graph-seed.ts). */
const COMMITMENT_BYTES = 32;
/** setTimeout's largest delay. */
const MAX_DEADLINE_MS = 2 ** 31 - 1;
/** Fixed-point fractional bits must leave room in the 32-bit ring. */
const MAX_FRACTIONAL_BITS = 31;

type Body<M> = Omit<M, 'type' | 'session' | 'round'>;
type BodyParser<M> = (body: unknown, l: WireLimits) => Body<M>;
type Parsers<M extends { readonly type: string }> = { readonly [K in M['type']]: BodyParser<Extract<M, { readonly type: K }>> };

// ---- shared pieces ----------------------------------------------------------

function idList(u: unknown, path: string, l: WireLimits, min = 0): { ids: number[]; set: UniqueIds } {
  const arr = expectArray(u, path, min, l.maxCohort);
  const set = new UniqueIds();
  const ids = arr.map((x, i) => set.add(expectId(x, at(path, i)), at(path, i)));
  return { ids, set };
}

function encryptedShares(u: unknown, path: string, l: WireLimits): EncryptedShare[] {
  const seen = new UniqueIds();
  return expectArray(u, path, 0, l.maxCohort).map((x, i) => {
    const p = at(path, i);
    const m = expectMap(x, p, ['peer', 'ct']);
    const peer = seen.add(expectId(m['peer'], at(p, 'peer')), at(p, 'peer'));
    return { peer, ct: expectBytesUpTo(m['ct'], at(p, 'ct'), 1, l.maxCiphertextBytes) };
  });
}

function revealedShares(u: unknown, path: string, l: WireLimits): { list: RevealedShare[]; ids: UniqueIds } {
  const ids = new UniqueIds();
  const list = expectArray(u, path, 0, l.maxCohort).map((x, i) => {
    const p = at(path, i);
    const m = expectMap(x, p, ['of', 'share']);
    const of = ids.add(expectId(m['of'], at(p, 'of')), at(p, 'of'));
    return { of, share: expectBytesUpTo(m['share'], at(p, 'share'), 1, l.maxShareBytes) };
  });
  return { list, ids };
}

function text(m: Record<string, unknown>, key: string, l: WireLimits, min = 0): string {
  return expectString(m[key], at('body', key), min, l.maxStringLength);
}

function optionalReason<R extends string>(m: Record<string, unknown>, table: readonly R[]): { reason?: R } {
  return hasKey(m, 'reason') ? { reason: expectOneOf(m['reason'], 'body.reason', table) } : {};
}

function taskId(u: unknown, path: string): string {
  return expectPattern(u, path, TASK_ID_PATTERN, 'a task id (1-128 of [A-Za-z0-9._-], starting alphanumeric)');
}

function taskDescriptor(u: unknown, path: string, l: WireLimits): TaskDescriptor {
  const m = expectMap(u, path, ['rounds', 'modelLength', 'cohortSize', 'threshold', 'activeAdversary'], ['dp']);
  const cohortSize = expectCount(m['cohortSize'], at(path, 'cohortSize'), 1, l.maxCohort, 'clients');
  return {
    rounds: expectInt(m['rounds'], at(path, 'rounds'), 1, Number.MAX_SAFE_INTEGER),
    modelLength: expectCount(m['modelLength'], at(path, 'modelLength'), 1, l.maxVectorLength, 'weights'),
    cohortSize,
    threshold: m['threshold'] === null ? null : expectInt(m['threshold'], at(path, 'threshold'), 1, cohortSize, `null or a threshold in [1, cohortSize = ${cohortSize}]`),
    activeAdversary: expectBool(m['activeAdversary'], at(path, 'activeAdversary')),
    ...(hasKey(m, 'dp') ? { dp: dpParams(m['dp'], at(path, 'dp'), l) } : {}),
  };
}

/**
 * TaskOffer.dp / TaskDescriptor.dp: shapes and ranges only. Whether the parameters
 * make a usable plan, and whether they agree with the round, the client checks
 * (secagg planDp, client dp-consent.ts).
 */
function dpParams(u: unknown, path: string, l: WireLimits): DpParams {
  const m = expectMap(u, path, ['mechanism', 'noiseMultiplier', 'clipNorm', 'minSurvivors', 'cohortSize', 'beta', 'wrapProbability', 'epsilon', 'delta', 'rounds']);
  const cohortSize = expectCount(m['cohortSize'], at(path, 'cohortSize'), 1, l.maxCohort, 'clients');
  const rate = (key: string): number => {
    const v = expectFinite(m[key], at(path, key), 0, true);
    if (v >= 1) badField(at(path, key), `expected a number in (0, 1), got ${v}`);
    return v;
  };
  return {
    mechanism: expectOneOf(m['mechanism'], at(path, 'mechanism'), DP_MECHANISMS),
    noiseMultiplier: expectFinite(m['noiseMultiplier'], at(path, 'noiseMultiplier'), 0, false),
    clipNorm: expectFinite(m['clipNorm'], at(path, 'clipNorm'), 0, true),
    minSurvivors: expectInt(m['minSurvivors'], at(path, 'minSurvivors'), 1, cohortSize, `a threshold in [1, cohortSize = ${cohortSize}]`),
    cohortSize,
    beta: rate('beta'),
    wrapProbability: rate('wrapProbability'),
    epsilon: expectFinite(m['epsilon'], at(path, 'epsilon'), 0, true),
    delta: rate('delta'),
    rounds: expectInt(m['rounds'], at(path, 'rounds'), 1, Number.MAX_SAFE_INTEGER),
  };
}

function quant(u: unknown, path: string, l: WireLimits): QuantParams {
  const m = expectMap(u, path, ['clipNorm', 'weightBound', 'cohortSize', 'fractionalBits', 'metricCount', 'metricBound']);
  return {
    clipNorm: expectFinite(m['clipNorm'], at(path, 'clipNorm'), 0, true),
    weightBound: expectFinite(m['weightBound'], at(path, 'weightBound'), 0, true),
    cohortSize: expectCount(m['cohortSize'], at(path, 'cohortSize'), 1, l.maxCohort, 'clients'),
    fractionalBits: expectInt(m['fractionalBits'], at(path, 'fractionalBits'), 0, MAX_FRACTIONAL_BITS),
    metricCount: expectCount(m['metricCount'], at(path, 'metricCount'), 0, l.maxMetrics, 'metrics'),
    metricBound: expectFinite(m['metricBound'], at(path, 'metricBound'), 0, false),
  };
}

function metrics(u: unknown, path: string, l: WireLimits): Record<string, number> {
  if (!isPlainObject(u)) return badField(path, `expected a map of metric name to number, got ${describe(u)}`);
  const keys = Object.keys(u);
  if (keys.length > l.maxMetrics) tooLarge(path, 'metrics', l.maxMetrics, keys.length);
  const out: Record<string, number> = {};
  for (const k of keys) {
    const p = at(path, k);
    // The pattern excludes `__proto__` and friends, so plain assignment is safe.
    expectPattern(k, p, METRIC_NAME_PATTERN, 'a metric name (1-64 of [A-Za-z0-9_.-], starting with a letter)');
    const v = u[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) badField(p, `expected a finite number, got ${describe(v)}`);
    out[k] = v;
  }
  return out;
}

// ---- coordinator -> client --------------------------------------------------

const COORDINATOR_BODIES: Parsers<CoordinatorMessage> = {
  Challenge(b, l) {
    const m = expectMap(b, 'body', ['nonce', 'coordinatorVersion']);
    return {
      nonce: expectBytes(m['nonce'], 'body.nonce', NONCE_BYTES),
      coordinatorVersion: text(m, 'coordinatorVersion', l, 1),
    };
  },
  Welcome(b, l) {
    const m = expectMap(b, 'body', ['clientId', 'taskId'], ['task']);
    return {
      clientId: expectId(m['clientId'], 'body.clientId'),
      taskId: taskId(m['taskId'], 'body.taskId'),
      ...(hasKey(m, 'task') ? { task: taskDescriptor(m['task'], 'body.task', l) } : {}),
    };
  },
  TaskOffer(b, l) {
    const m = expectMap(b, 'body', ['taskId', 'cohortSize', 'threshold', 'graph', 'degree', 'model', 'quant', 'deadlineMs'], ['modelSpec', 'dp']);
    const cohortSize = expectCount(m['cohortSize'], 'body.cohortSize', 1, l.maxCohort, 'clients');
    return {
      taskId: taskId(m['taskId'], 'body.taskId'),
      cohortSize,
      threshold: expectInt(m['threshold'], 'body.threshold', 1, cohortSize, `a threshold in [1, cohortSize = ${cohortSize}]`),
      graph: expectOneOf(m['graph'], 'body.graph', GRAPH_KINDS),
      degree: expectInt(m['degree'], 'body.degree', 1, Math.max(1, cohortSize - 1), `a degree in [1, cohortSize − 1 = ${cohortSize - 1}]`),
      model: expectF32Vector(m['model'], 'body.model', l.maxVectorLength, l.expectedModelLength, l.frameOwned === true),
      quant: quant(m['quant'], 'body.quant', l),
      deadlineMs: expectInt(m['deadlineMs'], 'body.deadlineMs', 1, MAX_DEADLINE_MS),
      ...(hasKey(m, 'modelSpec') ? { modelSpec: expectString(m['modelSpec'], 'body.modelSpec', 1, MAX_MODEL_SPEC_LENGTH) } : {}),
      ...(hasKey(m, 'dp') ? { dp: dpParams(m['dp'], 'body.dp', l) } : {}),
    };
  },
  GlobalModel(b, l) {
    const m = expectMap(b, 'body', ['taskId', 'round', 'final', 'model']);
    return {
      taskId: taskId(m['taskId'], 'body.taskId'),
      round: expectRound(m['round'], 'body.round'),
      final: expectBool(m['final'], 'body.final'),
      model: expectF32Vector(m['model'], 'body.model', l.maxVectorLength, l.expectedModelLength, l.frameOwned === true),
    };
  },
  RoundResult(b, l) {
    const m = expectMap(b, 'body', ['status', 'survivors'], ['reason', 'metrics']);
    return {
      status: expectOneOf(m['status'], 'body.status', ROUND_STATUSES),
      ...optionalReason(m, ROUND_REASONS),
      ...(hasKey(m, 'metrics') ? { metrics: metrics(m['metrics'], 'body.metrics', l) } : {}),
      survivors: expectCount(m['survivors'], 'body.survivors', 0, l.maxCohort, 'clients'),
    };
  },
  ErrorNotice(b, l) {
    const m = expectMap(b, 'body', ['code', 'message']);
    const code = m['code'];
    if (!isProtocolErrorCode(code)) badField('body.code', `expected a WIRE_* error code, got ${describe(code)}`);
    return { code, message: text(m, 'message', l) };
  },
  RoundStart(b, l) {
    const m = expectMap(b, 'body', ['you', 'roster', 'neighbours', 'graph', 'degree', 'commitments', 'threshold', 'vectorLength', 'activeAdversary']);
    const you = expectId(m['you'], 'body.you');
    const rosterIds = new UniqueIds();
    let prev = 0;
    const roster: RosterEntry[] = expectArray(m['roster'], 'body.roster', 1, l.maxCohort).map((x, i) => {
      const p = at('body.roster', i);
      const e = expectMap(x, p, ['id', 'identityKey']);
      const id = rosterIds.add(expectId(e['id'], at(p, 'id')), at(p, 'id'));
      // messages.ts: "the whole cohort ... sorted by id".
      if (id < prev) badField(at(p, 'id'), `expected ids in increasing order, got ${id} after ${prev}`);
      prev = id;
      return { id, identityKey: expectBytes(e['identityKey'], at(p, 'identityKey'), PUBLIC_KEY_BYTES) };
    });
    if (!rosterIds.has(you)) badField('body.you', `expected an id in body.roster, got ${you}`);
    const { ids: neighbours } = idList(m['neighbours'], 'body.neighbours', l);
    neighbours.forEach((id, i) => {
      const p = at('body.neighbours', i);
      if (id === you) badField(p, `expected a neighbour other than body.you, got ${id}`);
      if (!rosterIds.has(id)) badField(p, `expected an id in body.roster, got ${id}`);
    });
    const committed = new UniqueIds();
    const commitments: AdvertCommitment[] = expectArray(m['commitments'], 'body.commitments', 0, l.maxCohort).map((x, i) => {
      const p = at('body.commitments', i);
      const c = expectMap(x, p, ['id', 'commit']);
      const id = committed.add(expectId(c['id'], at(p, 'id')), at(p, 'id'));
      if (!rosterIds.has(id)) badField(at(p, 'id'), `expected an id in body.roster, got ${id}`);
      return { id, commit: expectBytes(c['commit'], at(p, 'commit'), COMMITMENT_BYTES) };
    });
    return {
      you,
      roster,
      neighbours,
      graph: expectOneOf(m['graph'], 'body.graph', GRAPH_KINDS),
      degree: expectInt(m['degree'], 'body.degree', 1, Math.max(1, roster.length - 1), `a degree in [1, roster size − 1 = ${roster.length - 1}]`),
      commitments,
      threshold: expectInt(m['threshold'], 'body.threshold', 1, roster.length, `a threshold in [1, roster size = ${roster.length}]`),
      vectorLength: expectCount(m['vectorLength'], 'body.vectorLength', 1, l.maxVectorLength, 'lanes'),
      activeAdversary: expectBool(m['activeAdversary'], 'body.activeAdversary'),
    };
  },
  KeyList(b, l) {
    const m = expectMap(b, 'body', ['adverts']);
    const seen = new UniqueIds();
    const adverts: SignedAdvert[] = expectArray(m['adverts'], 'body.adverts', 0, l.maxCohort).map((x, i) => {
      const p = at('body.adverts', i);
      const a = expectMap(x, p, ['id', 'cPk', 'sPk', 'bPk', 'sig']);
      return {
        id: seen.add(expectId(a['id'], at(p, 'id')), at(p, 'id')),
        cPk: expectBytes(a['cPk'], at(p, 'cPk'), PUBLIC_KEY_BYTES),
        sPk: expectBytes(a['sPk'], at(p, 'sPk'), PUBLIC_KEY_BYTES),
        bPk: expectBytes(a['bPk'], at(p, 'bPk'), PUBLIC_KEY_BYTES),
        sig: expectBytes(a['sig'], at(p, 'sig'), ADVERT_SIG_LENGTHS),
      };
    });
    return { adverts };
  },
  ShareBundle(b, l) {
    const m = expectMap(b, 'body', ['shares']);
    return { shares: encryptedShares(m['shares'], 'body.shares', l) };
  },
  SurvivorList(b, l) {
    const m = expectMap(b, 'body', ['survivors']);
    return { survivors: idList(m['survivors'], 'body.survivors', l).ids };
  },
  UnmaskRequest(b, l) {
    const m = expectMap(b, 'body', ['survivors', 'signatures']);
    const survivors = idList(m['survivors'], 'body.survivors', l).ids;
    const seen = new UniqueIds();
    const signatures: SurvivorSignature[] = expectArray(m['signatures'], 'body.signatures', 0, l.maxCohort).map((x, i) => {
      const p = at('body.signatures', i);
      const s = expectMap(x, p, ['id', 'sig']);
      return {
        id: seen.add(expectId(s['id'], at(p, 'id')), at(p, 'id')),
        sig: expectBytes(s['sig'], at(p, 'sig'), SIGNATURE_BYTES),
      };
    });
    return { survivors, signatures };
  },
};

// ---- client -> coordinator --------------------------------------------------

const CLIENT_BODIES: Parsers<NodeClientMessage> = {
  Hello(b, l) {
    const m = expectMap(b, 'body', ['identityKey', 'clientVersion']);
    return {
      identityKey: expectBytes(m['identityKey'], 'body.identityKey', PUBLIC_KEY_BYTES),
      clientVersion: text(m, 'clientVersion', l, 1),
    };
  },
  AuthResponse(b) {
    const m = expectMap(b, 'body', ['sig']);
    return { sig: expectBytes(m['sig'], 'body.sig', SIGNATURE_BYTES) };
  },
  OfferReply(b, l) {
    const m = expectMap(b, 'body', ['accept'], ['reason', 'keyCommit']);
    return {
      accept: expectBool(m['accept'], 'body.accept'),
      ...optionalReason(m, DECLINE_REASONS),
      ...(hasKey(m, 'keyCommit') ? { keyCommit: expectBytes(m['keyCommit'], 'body.keyCommit', COMMITMENT_BYTES) } : {}),
    };
  },
  AdvertiseKeys(b) {
    const m = expectMap(b, 'body', ['cPk', 'sPk', 'bPk', 'sig']);
    return {
      cPk: expectBytes(m['cPk'], 'body.cPk', PUBLIC_KEY_BYTES),
      sPk: expectBytes(m['sPk'], 'body.sPk', PUBLIC_KEY_BYTES),
      bPk: expectBytes(m['bPk'], 'body.bPk', PUBLIC_KEY_BYTES),
      sig: expectBytes(m['sig'], 'body.sig', ADVERT_SIG_LENGTHS),
    };
  },
  ShareKeys(b, l) {
    const m = expectMap(b, 'body', ['shares']);
    return { shares: encryptedShares(m['shares'], 'body.shares', l) };
  },
  MaskedInput(b, l) {
    const m = expectMap(b, 'body', ['y']);
    return { y: expectU32Vector(m['y'], 'body.y', l.maxVectorLength, l.expectedVectorLength, l.frameOwned === true) };
  },
  ConsistencySignature(b) {
    const m = expectMap(b, 'body', ['sig']);
    return { sig: expectBytes(m['sig'], 'body.sig', SIGNATURE_BYTES) };
  },
  UnmaskShares(b, l) {
    const m = expectMap(b, 'body', ['selfMaskShares', 'keyShares']);
    const self = revealedShares(m['selfMaskShares'], 'body.selfMaskShares', l);
    const key = revealedShares(m['keyShares'], 'body.keyShares', l);
    // Bonawitz et al. 2017 §4: revealing both shares of one peer unmasks its input.
    key.list.forEach((s, i) => {
      if (self.ids.has(s.of)) {
        badField(at(at('body.keyShares', i), 'of'), `expected no id also in body.selfMaskShares, got ${s.of} in both`);
      }
    });
    return { selfMaskShares: self.list, keyShares: key.list };
  },
};

// ---- envelope ---------------------------------------------------------------

function parseEnvelope<M>(u: unknown, parsers: Record<string, BodyParser<unknown>>, limits: Partial<WireLimits> | undefined): M | ProtocolError {
  if (u instanceof ProtocolError) return u; // decode() already refused the frame
  try {
    const l = resolveLimits(limits);
    if (!isPlainObject(u)) {
      return new ProtocolError(ProtocolErrorCode.Malformed, `expected an envelope map, got ${describe(u)}`);
    }
    // The version first: another version may have another envelope.
    const v = u['v'];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v !== PROTOCOL_VERSION) {
      return new ProtocolError(ProtocolErrorCode.UnsupportedVersion, `expected version ${PROTOCOL_VERSION}, got ${v}`, 'v');
    }
    expectInt(v, 'v', PROTOCOL_VERSION, PROTOCOL_VERSION, `version ${PROTOCOL_VERSION}`);
    const type = u['type'];
    if (typeof type !== 'string') badField('type', `expected a message type string, got ${describe(type)}`);
    if (!Object.hasOwn(parsers, type)) {
      return new ProtocolError(
        ProtocolErrorCode.UnknownType,
        `expected one of ${Object.keys(parsers).join(', ')}, got ${describe(type)}`,
        'type',
      );
    }
    const parseBody = parsers[type]!;
    const scoped = SESSION_SCOPED[type as keyof typeof SESSION_SCOPED];
    const env = expectMap(u, '', scoped ? ['v', 'type', 'session', 'round', 'body'] : ['v', 'type', 'body']);
    const head = scoped
      ? { type, session: expectBytes(env['session'], 'session', SESSION_BYTES), round: expectRound(env['round'], 'round') }
      : { type };
    const body = parseBody(env['body'], l);
    return { ...head, ...(body as object) } as M;
  } catch (e) {
    if (e instanceof ProtocolError) return e;
    // A bug here, not the peer's fault; fail closed but visibly.
    return new ProtocolError(ProtocolErrorCode.Internal, `parser failed: ${e instanceof Error ? e.message : String(e)}`, undefined, { cause: e });
  }
}

/**
 * Validates a decoded frame from the coordinator. `u` is usually decode()'s
 * result; a ProtocolError from decode() is returned unchanged, so
 * `parseCoordinatorMessage(decode(bytes))` is the whole pipeline. Never throws.
 */
export function parseCoordinatorMessage(u: unknown, limits?: Partial<WireLimits>): CoordinatorMessage | ProtocolError {
  return parseEnvelope<CoordinatorMessage>(u, COORDINATOR_BODIES as Record<CoordinatorMessageType, BodyParser<unknown>>, limits);
}

/** Validates a decoded frame from a client; as parseCoordinatorMessage. Never throws. */
export function parseClientMessage(u: unknown, limits?: Partial<WireLimits>): NodeClientMessage | ProtocolError {
  return parseEnvelope<NodeClientMessage>(u, CLIENT_BODIES as Record<ClientMessageType, BodyParser<unknown>>, limits);
}

/**
 * Roster membership, which parse cannot know: every id must be in `allowed`
 * (e.g. this round's cohort). Returns a NotInCohort error naming the first
 * offender, or null.
 */
export function assertIdsIn(ids: Iterable<number>, allowed: ReadonlySet<number>, field = 'ids'): ProtocolError | null {
  let i = 0;
  for (const id of ids) {
    if (!allowed.has(id)) {
      return new ProtocolError(ProtocolErrorCode.NotInCohort, `expected a member of this round's cohort, got client ${id}`, `${field}[${i}]`);
    }
    i++;
  }
  return null;
}
