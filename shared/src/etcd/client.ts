/**
 * A small etcd v3 client over etcd's JSON gRPC-gateway (`POST https://host:2379/v3/…`, served by
 * etcd ≥ 3.4 on the client port), with mutual TLS. Why not gRPC: it would be the agent's only
 * protobuf/HTTP2 dependency, for a handful of unary calls; the gateway speaks plain JSON.
 *
 * Rules every call follows:
 * - A deadline: each HTTP exchange is bounded by `timeoutMs` (default 2 s) and by the caller's
 *   AbortSignal; nothing here can hang a task.
 * - Endpoints are tried in order, the first that answers wins. Reads fail over on any transport
 *   failure; writes fail over only when the request provably never reached a server (the TLS
 *   connection was not established), because a member add that timed out after being sent may
 *   have been applied, and sending it again elsewhere would add a second member.
 * - uint64/int64 values (member ids, revisions, lease ids) stay decimal strings: the gateway
 *   sends them as strings and they do not fit in a JS number.
 * - Answers cross a process boundary, so their shape is checked (typebox) and their size capped.
 * - Failures are coded: BALLAST_ERR_ETCD_UNAVAILABLE (nobody answered, or etcd said gRPC
 *   Unavailable/DeadlineExceeded), BALLAST_ERR_ETCD_REFUSED (etcd answered with an error; its own
 *   message is kept), BALLAST_ERR_CANCELLED (the caller's signal).
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { Logger } from 'pino';
import { BallastError } from '../errors.js';
import { type GatewayAnswer, GatewayTransportFailure, postGatewayJson } from './gateway-post.js';
import { EtcdKvSchema, LeaseKeepAliveSchema, U64 } from './gateway-schemas.js';

/** Per-call deadline unless the client or the call says otherwise. */
export const DEFAULT_ETCD_CALL_TIMEOUT_MS = 2_000;
/** Answers larger than this are refused (a member list of a healthy cluster is a few KiB). */
export const DEFAULT_ETCD_MAX_RESPONSE_BYTES = 1024 * 1024;

/** PEM contents (not paths: the caller decides where files live, e.g. under a test root). */
export interface EtcdTlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

/** Options of one call. */
export interface EtcdCallOptions {
  /** Aborting ends the call at once with BALLAST_ERR_CANCELLED. */
  signal?: AbortSignal;
  /** Deadline of each HTTP exchange of this call; default the client's. */
  timeoutMs?: number;
}

/** Options of {@link createEtcdClient}. */
export interface EtcdClientOptions {
  /** Client URLs (`https://host:2379`), tried in order. */
  endpoints: readonly string[];
  tls: EtcdTlsMaterial;
  /** Default per-call deadline; {@link DEFAULT_ETCD_CALL_TIMEOUT_MS} when absent. */
  timeoutMs?: number;
  maxResponseBytes?: number;
  log?: Logger;
}

/** One cluster member. `name` is '' and `clientUrls` empty until an added member first starts. */
export interface EtcdMember {
  /** uint64 as a decimal string. */
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** What one member says about itself (`/v3/maintenance/status`). */
export interface EtcdStatus {
  /** The member that answered. */
  memberId: string;
  /** The leader it follows; '0' when it has none. */
  leader: string;
  version: string;
  raftIndex: string;
  raftTerm: string;
  dbSize: string;
  isLearner: boolean;
  /** Alarms and other errors the member reports. */
  errors: string[];
}

/** One key-value pair; key and value are decoded from the gateway's base64. */
export interface EtcdKeyValue {
  key: string;
  value: string;
  /** The revision that created the key: the VIP's term (fencing token) for its holder key. */
  createRevision: string;
  modRevision: string;
  version: string;
  lease: string;
}

/**
 * The etcd operations Ballast needs. Modules depend on this port, never on the HTTPS client, so
 * their tests use a hand-written fake. The lease and kv calls are for the VIP lease code.
 */
export interface EtcdClient {
  /** The endpoints, in the order they are tried. */
  readonly endpoints: readonly string[];
  memberList(opts?: EtcdCallOptions): Promise<EtcdMember[]>;
  /** Adds a member (a learner when `isLearner`); resolves with it (id assigned, not started). */
  memberAdd(peerUrls: readonly string[], opts: EtcdCallOptions & { isLearner: boolean }): Promise<EtcdMember>;
  /** Learner → voter; etcd refuses while the learner is not in sync with the leader. */
  memberPromote(id: string, opts?: EtcdCallOptions): Promise<void>;
  memberRemove(id: string, opts?: EtcdCallOptions): Promise<void>;
  /** Status of the member at exactly `endpoint` (no fail-over: the question is about that member). */
  status(endpoint: string, opts?: EtcdCallOptions): Promise<EtcdStatus>;
  /** Grants a lease; resolves with its id and granted TTL in seconds. */
  leaseGrant(ttlSeconds: number, opts?: EtcdCallOptions): Promise<{ id: string; ttlSeconds: number }>;
  /** One keep-alive; resolves with the remaining TTL (0: the lease had already expired). */
  leaseKeepAlive(id: string, opts?: EtcdCallOptions): Promise<{ ttlSeconds: number }>;
  leaseRevoke(id: string, opts?: EtcdCallOptions): Promise<void>;
  /** The value at `key`, or null. */
  get(key: string, opts?: EtcdCallOptions): Promise<EtcdKeyValue | null>;
  /**
   * Any gateway call (`/v3/…`) under this client's rules (endpoint order, deadline, size cap,
   * coded errors); resolves with the parsed 2xx answer, which the caller must validate. Treated as
   * a mutation (fail-over only before delivery) unless `idempotent`. Its shape fits the
   * `EtcdTransport` of lease.ts, so the VIP code can ride on this client too.
   */
  post(path: string, body: unknown, opts?: EtcdCallOptions & { idempotent?: boolean }): Promise<unknown>;
}

/** Builds an {@link EtcdClient}; the etcd modules take one so tests can inject a fake. */
export type EtcdConnector = (opts: EtcdClientOptions) => EtcdClient;

// ---- response shapes (only the fields we read; the gateway omits fields at their default) ----

/** uint64/int64: the gateway sends strings; a number is accepted too and normalised. */
const MemberSchema = Type.Object({
  ID: U64,
  name: Type.Optional(Type.String()),
  peerURLs: Type.Optional(Type.Array(Type.String())),
  clientURLs: Type.Optional(Type.Array(Type.String())),
  isLearner: Type.Optional(Type.Boolean()),
});
const MemberListSchema = Type.Object({ members: Type.Optional(Type.Array(MemberSchema)) });
const MemberAddSchema = Type.Object({ member: MemberSchema });
const EmptySchema = Type.Object({});
const StatusSchema = Type.Object({
  header: Type.Object({ member_id: U64 }),
  leader: Type.Optional(U64),
  version: Type.Optional(Type.String()),
  raftIndex: Type.Optional(U64),
  raftTerm: Type.Optional(U64),
  dbSize: Type.Optional(U64),
  isLearner: Type.Optional(Type.Boolean()),
  errors: Type.Optional(Type.Array(Type.String())),
});
const LeaseGrantSchema = Type.Object({ ID: U64, TTL: U64, error: Type.Optional(Type.String()) });
const RangeSchema = Type.Object({
  kvs: Type.Optional(
    Type.Array(
      EtcdKvSchema,
    ),
  ),
});
/** The gateway's error body (grpc-gateway v1): `{"error": "...", "message": "...", "code": 9}`. */
const ErrorBodySchema = Type.Object({ error: Type.Optional(Type.String()), message: Type.Optional(Type.String()), code: Type.Optional(Type.Integer()) });

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checker<S extends TSchema>(schema: S): TypeCheck<S> {
  let check = compiled.get(schema);
  if (check === undefined) {
    check = TypeCompiler.Compile(schema);
    compiled.set(schema, check);
  }
  return check as TypeCheck<S>;
}

const u64 = (value: string | number | undefined): string => (value === undefined ? '0' : String(value));

function toMember(m: Static<typeof MemberSchema>): EtcdMember {
  return { id: u64(m.ID), name: m.name ?? '', peerUrls: m.peerURLs ?? [], clientUrls: m.clientURLs ?? [], isLearner: m.isLearner === true };
}

/** gRPC codes that mean "try again / elsewhere" rather than "no". */
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** A transport-level failure of one endpoint; `delivered` says whether the request may have reached etcd. */
class EndpointFailure extends Error {
  constructor(
    message: string,
    readonly delivered: boolean,
    /** etcd itself answered (with gRPC Unavailable/DeadlineExceeded), so we know what happened to the request. */
    readonly answered = false,
  ) {
    super(message);
  }
}

/** The real client (see the file comment). Holds no connections between calls, so there is nothing to close. */
export function createEtcdClient(opts: EtcdClientOptions): EtcdClient {
  if (opts.endpoints.length === 0) throw new BallastError('BALLAST_ERR_CONFIG', 'failed to create an etcd client: no endpoints');
  const defaultTimeout = opts.timeoutMs ?? DEFAULT_ETCD_CALL_TIMEOUT_MS;
  const maxBytes = opts.maxResponseBytes ?? DEFAULT_ETCD_MAX_RESPONSE_BYTES;
  const log = opts.log?.child({ component: 'etcd-client' });

  /** One POST to one endpoint: resolves with the parsed JSON of a 2xx, rejects with a coded error or an {@link EndpointFailure}. */
  const post = async (endpoint: string, path: string, body: unknown, call: EtcdCallOptions): Promise<unknown> => {
    let answer: GatewayAnswer;
    try {
      answer = await postGatewayJson({
        endpoint,
        path,
        body,
        secure: true,
        // A fresh connection per call: calls are rare, and a pooled socket to a dead member would outlive its deadline.
        // It also makes `delivered` exact: the TLS handshake of this call's own connection.
        connection: { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, agent: false },
        trackDelivery: true,
        timeoutMs: call.timeoutMs ?? defaultTimeout,
        maxResponseBytes: maxBytes,
        signal: call.signal,
      });
    } catch (err) {
      if (err instanceof GatewayTransportFailure) throw new EndpointFailure(err.message, err.delivered);
      throw err;
    }
    const { status, body: parsed } = answer;
    if (status >= 200 && status < 300) return parsed;
    const errBody = checker(ErrorBodySchema).Check(parsed) ? parsed : {};
    const why = errBody.message || errBody.error || `HTTP ${status}`;
    if (errBody.code === GRPC_UNAVAILABLE || errBody.code === GRPC_DEADLINE_EXCEEDED || status === 503 || status === 504) {
      throw new EndpointFailure(why, true, true);
    }
    throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `etcd at ${endpoint} refused ${path}: ${why}`);
  };

  /**
   * POSTs to the endpoints in order and validates the answer. `mutation` limits fail-over to
   * requests that never reached a server (see the file comment).
   */
  const call = async <S extends TSchema>(
    what: string,
    path: string,
    body: unknown,
    schema: S,
    callOpts: EtcdCallOptions & { mutation?: boolean; endpoints?: readonly string[] },
  ): Promise<Static<S>> => {
    const failures: string[] = [];
    for (const endpoint of callOpts.endpoints ?? opts.endpoints) {
      if (callOpts.signal?.aborted) throw new BallastError('BALLAST_ERR_CANCELLED', `failed to ${what}: cancelled`);
      let answer: unknown;
      try {
        answer = await post(endpoint, path, body, callOpts);
      } catch (err) {
        if (!(err instanceof EndpointFailure)) throw err;
        failures.push(`${endpoint}: ${err.message}`);
        log?.debug({ endpoint, path, err: err.message }, 'etcd endpoint did not answer');
        if (callOpts.mutation === true && err.delivered) {
          const hint = err.answered ? '' : ' (the request may have been applied; not retried elsewhere)';
          throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to ${what}: ${failures.join('; ')}${hint}`);
        }
        continue;
      }
      const check = checker(schema);
      if (!check.Check(answer)) {
        const problem = [...check.Errors(answer)][0];
        throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to ${what}: etcd at ${endpoint} answered an unexpected shape (${problem?.path ?? ''}: ${problem?.message ?? '?'})`);
      }
      return answer;
    }
    throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to ${what}: no etcd endpoint answered: ${failures.join('; ')}`);
  };

  return {
    endpoints: [...opts.endpoints],
    async memberList(o = {}) {
      const res = await call('list etcd members', '/v3/cluster/member/list', {}, MemberListSchema, o);
      return (res.members ?? []).map(toMember);
    },
    async memberAdd(peerUrls, o) {
      const res = await call('add an etcd member', '/v3/cluster/member/add', { peerURLs: peerUrls, isLearner: o.isLearner }, MemberAddSchema, { ...o, mutation: true });
      return toMember(res.member);
    },
    async memberPromote(id, o = {}) {
      await call(`promote etcd member ${id}`, '/v3/cluster/member/promote', { ID: id }, EmptySchema, { ...o, mutation: true });
    },
    async memberRemove(id, o = {}) {
      await call(`remove etcd member ${id}`, '/v3/cluster/member/remove', { ID: id }, EmptySchema, { ...o, mutation: true });
    },
    async status(endpoint, o = {}) {
      const res = await call(`get the status of etcd at ${endpoint}`, '/v3/maintenance/status', {}, StatusSchema, { ...o, endpoints: [endpoint] });
      return {
        memberId: u64(res.header.member_id),
        leader: u64(res.leader),
        version: res.version ?? '',
        raftIndex: u64(res.raftIndex),
        raftTerm: u64(res.raftTerm),
        dbSize: u64(res.dbSize),
        isLearner: res.isLearner === true,
        errors: res.errors ?? [],
      };
    },
    async leaseGrant(ttlSeconds, o = {}) {
      const res = await call('grant an etcd lease', '/v3/lease/grant', { TTL: String(ttlSeconds) }, LeaseGrantSchema, { ...o, mutation: true });
      if (res.error) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to grant an etcd lease: ${res.error}`);
      return { id: u64(res.ID), ttlSeconds: Number(res.TTL) };
    },
    async leaseKeepAlive(id, o = {}) {
      // Idempotent, so it may fail over even after delivery.
      const res = await call(`keep etcd lease ${id} alive`, '/v3/lease/keepalive', { ID: id }, LeaseKeepAliveSchema, o);
      return { ttlSeconds: Number(res.result.TTL ?? 0) };
    },
    async leaseRevoke(id, o = {}) {
      await call(`revoke etcd lease ${id}`, '/v3/lease/revoke', { ID: id }, EmptySchema, o);
    },
    async post(path, body, o = {}) {
      if (!/^\/v3\/[a-z_/]+$/.test(path)) throw new BallastError('BALLAST_ERR_INTERNAL', `failed to call etcd: ${JSON.stringify(path)} is not a /v3/ gateway path`);
      return call(`call etcd ${path}`, path, body, Type.Unknown(), { ...o, mutation: o.idempotent !== true });
    },
    async get(key, o = {}) {
      const res = await call(`read etcd key ${key}`, '/v3/kv/range', { key: Buffer.from(key).toString('base64') }, RangeSchema, o);
      const kv = res.kvs?.[0];
      if (kv === undefined) return null;
      return {
        key: Buffer.from(kv.key, 'base64').toString('utf8'),
        value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
        createRevision: u64(kv.create_revision),
        modRevision: u64(kv.mod_revision),
        version: u64(kv.version),
        lease: u64(kv.lease),
      };
    },
  };
}

/** The production {@link EtcdConnector}. */
export const connectEtcd: EtcdConnector = createEtcdClient;

/** A member id as etcdctl prints it (hex), for messages people compare with `etcdctl member list`. */
export function memberIdHex(id: string): string {
  try {
    return BigInt(id).toString(16);
  } catch {
    return id;
  }
}
