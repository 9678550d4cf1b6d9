/**
 * etcd lease and kv calls for the VIP election, over etcd 3.4's JSON gRPC-gateway, written
 * against a one-method transport ({@link EtcdTransport}) so they can ride on any HTTP client
 * that enforces deadlines. `createHttpsEtcdTransport` is the one the agent uses today.
 *
 * Why a separate transport from `client.ts`: the VIP loop writes a heartbeat every 250 ms and must measure
 * the round trip of each renewal, so it wants one endpoint only (the host's own member, see
 * DESIGN "The VIP: what measurements … show"), no fail-over, and a kept-alive TLS connection
 * (a fresh handshake per renewal would put ~1 ms of CPU and a few ms of latency into every
 * measured round trip). `client.ts` makes the opposite choices for rare membership calls, and
 * has no txn or create_revision, which the election needs. Its `post(path, body, opts)` fits
 * {@link EtcdTransport}, so it can be passed here as the transport where fail-over is wanted.
 * The HTTP exchange itself (deadline, abort, size cap, JSON parsing) is shared with `client.ts`
 * (shared/src/etcd/gateway-post.ts); what stays here is what differs: the one endpoint, the
 * kept-alive agent, no fail-over, and the error mapping (every transport failure is
 * BALLAST_ERR_ETCD_UNAVAILABLE; a refusal keeps etcd's gRPC code as its cause).
 *
 * Gateway facts checked against etcd 3.4.23 (Debian):
 * - int64/uint64 are decimal strings both ways; keys and values are base64.
 * - `/v3/lease/keepalive` is a stream in gRPC; one request body gets one line
 *   `{"result":{"header":…,"ID":"…","TTL":"2"}}`. An expired or unknown lease answers HTTP 200
 *   with no `TTL` (zero), not an error.
 * - `/v3/lease/revoke` of an unknown lease answers 404 `{"code":5,"message":"…lease not found"}`.
 * - `/v3/kv/txn` answers `succeeded` only when true (fields at their default are omitted).
 */
import { HttpAgent } from '../../../shared/src/node-http.js';
import { Agent as HttpsAgent } from 'node:https';
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { BallastError } from '../../../shared/src/errors.js';
import { type GatewayAnswer, GatewayTransportFailure, postGatewayJson } from '../../../shared/src/etcd/gateway-post.js';
import { EtcdKvSchema, LeaseKeepAliveSchema, U64 } from '../../../shared/src/etcd/gateway-schemas.js';

/** Options of one transport call. Both bound the call: nothing may wait on a partitioned member. */
export interface EtcdPostOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * POSTs one JSON body to one gateway path (`/v3/…`) and resolves with the parsed 2xx answer.
 * Rejects with BALLAST_ERR_ETCD_UNAVAILABLE (no answer in time, transport failure, gRPC
 * Unavailable/DeadlineExceeded), BALLAST_ERR_ETCD_REFUSED (etcd said no; `grpcCode` kept on the
 * error's cause), or BALLAST_ERR_CANCELLED.
 */
export interface EtcdTransport {
  post(path: string, body: unknown, opts: EtcdPostOptions): Promise<unknown>;
}

/** PEM contents for mutual TLS. */
export interface EtcdTlsPem {
  ca: string;
  cert: string;
  key: string;
}

/** A transport that can swap its TLS material (certificate rotation) without a restart. */
export interface HttpsEtcdTransport extends EtcdTransport {
  readonly endpoint: string;
  setTls(tls: EtcdTlsPem): void;
  /** Closes kept-alive connections. */
  close(): void;
}

/** Answers larger than this are refused; the election's answers are a few hundred bytes. */
export const MAX_LEASE_RESPONSE_BYTES = 64 * 1024;

/** gRPC status codes the gateway puts in error bodies. */
const GRPC_NOT_FOUND = 5;
const GRPC_UNAVAILABLE = 14;
const GRPC_DEADLINE_EXCEEDED = 4;

/** The refusal as etcd stated it; kept as the `cause` of BALLAST_ERR_ETCD_REFUSED. */
export class EtcdGrpcError extends Error {
  constructor(
    message: string,
    readonly grpcCode: number | null,
    readonly httpStatus: number,
  ) {
    super(message);
    this.name = 'EtcdGrpcError';
  }
}

/**
 * One endpoint (https with mTLS; plain http only when `tls` is absent, for loopback tests), a
 * small pool of kept-alive connections, a hard deadline per call that destroys the request (and
 * so its socket: a half-dead connection is never reused), and a size cap on answers.
 */
export function createHttpsEtcdTransport(opts: { endpoint: string; tls?: EtcdTlsPem; maxResponseBytes?: number }): HttpsEtcdTransport {
  const url = new URL(opts.endpoint);
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') throw new BallastError('BALLAST_ERR_CONFIG', `failed to create an etcd transport: ${opts.endpoint} is not an http(s) URL`);
  if (secure && opts.tls === undefined) throw new BallastError('BALLAST_ERR_CONFIG', `failed to create an etcd transport: ${opts.endpoint} needs TLS material`);
  const maxBytes = opts.maxResponseBytes ?? MAX_LEASE_RESPONSE_BYTES;
  const newAgent = (tls: EtcdTlsPem | undefined) =>
    secure ? new HttpsAgent({ keepAlive: true, maxSockets: 4, ca: tls?.ca, cert: tls?.cert, key: tls?.key }) : new HttpAgent({ keepAlive: true, maxSockets: 4 });
  let agent = newAgent(opts.tls);

  const post = async (path: string, body: unknown, call: EtcdPostOptions): Promise<unknown> => {
    const unavailable = (why: string) => new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to call etcd ${path} at ${url.origin}: ${why}`);
    let answer: GatewayAnswer;
    try {
      // Through this transport's own kept-alive agent, to its one endpoint: no fail-over.
      answer = await postGatewayJson({ endpoint: url, path, body, secure, connection: { agent }, timeoutMs: call.timeoutMs, signal: call.signal, maxResponseBytes: maxBytes });
    } catch (err) {
      if (err instanceof GatewayTransportFailure) throw unavailable(err.message);
      throw err;
    }
    const { status, body: parsed } = answer;
    if (status >= 200 && status < 300) return parsed;
    const errBody = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as { message?: unknown; error?: unknown; code?: unknown };
    const why = String(errBody.message ?? errBody.error ?? `HTTP ${status}`);
    const code = typeof errBody.code === 'number' ? errBody.code : null;
    if (code === GRPC_UNAVAILABLE || code === GRPC_DEADLINE_EXCEEDED || status === 503 || status === 504) throw unavailable(why);
    throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `etcd at ${url.origin} refused ${path}: ${why}`, { cause: new EtcdGrpcError(why, code, status) });
  };

  return {
    endpoint: url.origin,
    post,
    setTls(tls) {
      const old = agent;
      agent = newAgent(tls);
      old.destroy();
    },
    close() {
      agent.destroy();
    },
  };
}

// ---- the calls ----

const KvSchema = EtcdKvSchema;
const HeaderSchema = Type.Object({ revision: Type.Optional(U64) });
const GrantSchema = Type.Object({ ID: U64, TTL: Type.Optional(U64), error: Type.Optional(Type.String()) });
const KeepAliveSchema = LeaseKeepAliveSchema;
const RevokeSchema = Type.Object({});
const TxnSchema = Type.Object({
  header: Type.Optional(HeaderSchema),
  succeeded: Type.Optional(Type.Boolean()),
  responses: Type.Optional(
    Type.Array(
      Type.Object({
        response_range: Type.Optional(Type.Object({ kvs: Type.Optional(Type.Array(KvSchema)) })),
        response_put: Type.Optional(Type.Object({ header: Type.Optional(HeaderSchema) })),
        response_delete_range: Type.Optional(Type.Object({ deleted: Type.Optional(U64) })),
      }),
    ),
  ),
});

const checks = {
  grant: TypeCompiler.Compile(GrantSchema),
  keepAlive: TypeCompiler.Compile(KeepAliveSchema),
  revoke: TypeCompiler.Compile(RevokeSchema),
  txn: TypeCompiler.Compile(TxnSchema),
};

function expect<S extends TSchema>(what: string, check: TypeCheck<S>, value: unknown): Static<S> {
  if (check.Check(value)) return value;
  const first = [...check.Errors(value)][0];
  throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to ${what}: etcd answered an unexpected shape (${first?.path || '/'}: ${first?.message ?? '?'})`);
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const unb64 = (text: string | undefined) => Buffer.from(text ?? '', 'base64').toString('utf8');
const u64 = (value: string | number | undefined) => (value === undefined ? '0' : String(value));

/** One key as read; revisions and the lease id are decimal strings ('0': none). */
export interface LeasedKeyValue {
  key: string;
  value: string;
  createRevision: string;
  modRevision: string;
  lease: string;
}

/** Outcome of {@link EtcdLeaseKv.createIfAbsent}. */
export type CreateOutcome = { created: true; revision: string } | { created: false; existing: LeasedKeyValue | null };

/**
 * A condition on one key's revisions: `create` compares create_revision (which a delete and
 * re-create changes, a put to the existing key does not), `mod` compares mod_revision (which every
 * write changes). Revisions are decimal strings.
 */
export type RevisionCondition = { create: string } | { mod: string };

/** Outcome of {@link EtcdLeaseKv.putIf}: on success the write's revision, otherwise the key as it is (null: absent). */
export type PutIfOutcome = { ok: true; revision: string } | { ok: false; existing: LeasedKeyValue | null };

/** The lease and kv operations the VIP election needs; every call takes a deadline. */
export interface EtcdLeaseKv {
  /** Grants a lease of `ttlSeconds`; resolves with its id (decimal string) and granted TTL. */
  grant(ttlSeconds: number, opts: EtcdPostOptions): Promise<{ id: string; ttlSeconds: number }>;
  /** One keep-alive; `ttlSeconds` 0 means the lease no longer exists (expired or revoked). */
  keepAlive(id: string, opts: EtcdPostOptions): Promise<{ ttlSeconds: number }>;
  /** Revokes a lease and deletes its keys; an unknown lease is not an error (it is gone either way). */
  revoke(id: string, opts: EtcdPostOptions): Promise<void>;
  /** Reads several keys in one round trip (a txn of ranges: one consistent revision). Absent keys are null. */
  getMany(keys: readonly string[], opts: EtcdPostOptions): Promise<(LeasedKeyValue | null)[]>;
  /**
   * Creates `key` = `value` attached to `lease` only if the key does not exist (compare
   * create_revision == 0). On success `revision` is the new key's create_revision.
   */
  createIfAbsent(key: string, value: string, lease: string, opts: EtcdPostOptions): Promise<CreateOutcome>;
  /** Unconditional put, attached to `lease` ('0': none). Resolves with the revision. */
  put(key: string, value: string, lease: string, opts: EtcdPostOptions): Promise<string>;
  /** Puts `key` = `value` (no lease) only if `key` exists and meets `condition`. */
  putIf(key: string, value: string, condition: RevisionCondition, opts: EtcdPostOptions): Promise<PutIfOutcome>;
  /** Deletes `key` only if it exists and meets `condition`; resolves true when it deleted it. */
  deleteIf(key: string, condition: RevisionCondition, opts: EtcdPostOptions): Promise<boolean>;
}

/**
 * The txn compare clause for a {@link RevisionCondition} on `key` (base64). Revision 0 would match
 * an absent key, so it is refused: a condition must name a version.
 */
function compareClause(key: string, condition: RevisionCondition, what: string): Record<string, string> {
  if (('create' in condition ? condition.create : condition.mod) === '0') {
    throw new BallastError('BALLAST_ERR_INTERNAL', `failed to ${what}: a revision condition of 0 matches an absent key`);
  }
  return 'create' in condition
    ? { key, target: 'CREATE', result: 'EQUAL', create_revision: condition.create }
    : { key, target: 'MOD', result: 'EQUAL', mod_revision: condition.mod };
}

function toKv(kv: Static<typeof KvSchema>): LeasedKeyValue {
  return { key: unb64(kv.key), value: unb64(kv.value), createRevision: u64(kv.create_revision), modRevision: u64(kv.mod_revision), lease: u64(kv.lease) };
}

/** The gateway calls of {@link EtcdLeaseKv} over any {@link EtcdTransport}. */
export function createEtcdLeaseKv(transport: EtcdTransport): EtcdLeaseKv {
  return {
    async grant(ttlSeconds, opts) {
      const what = 'grant an etcd lease';
      const res = expect(what, checks.grant, await transport.post('/v3/lease/grant', { TTL: String(ttlSeconds) }, opts));
      if (res.error) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `failed to ${what}: ${res.error}`);
      return { id: u64(res.ID), ttlSeconds: Number(res.TTL ?? 0) };
    },
    async keepAlive(id, opts) {
      const res = expect(`keep etcd lease ${id} alive`, checks.keepAlive, await transport.post('/v3/lease/keepalive', { ID: id }, opts));
      return { ttlSeconds: Number(res.result.TTL ?? 0) };
    },
    async revoke(id, opts) {
      try {
        expect(`revoke etcd lease ${id}`, checks.revoke, await transport.post('/v3/lease/revoke', { ID: id }, opts));
      } catch (err) {
        if (err instanceof BallastError && err.cause instanceof EtcdGrpcError && err.cause.grpcCode === GRPC_NOT_FOUND) return;
        throw err;
      }
    },
    async getMany(keys, opts) {
      const body = { compare: [], success: keys.map((key) => ({ request_range: { key: b64(key) } })) };
      const res = expect('read etcd keys', checks.txn, await transport.post('/v3/kv/txn', body, opts));
      return keys.map((key, i) => {
        const kv = res.responses?.[i]?.response_range?.kvs?.[0];
        return kv === undefined ? null : { ...toKv(kv), key };
      });
    },
    async createIfAbsent(key, value, lease, opts) {
      const k = b64(key);
      const body = {
        compare: [{ key: k, target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
        success: [{ request_put: { key: k, value: b64(value), lease } }],
        failure: [{ request_range: { key: k } }],
      };
      const res = expect(`create etcd key ${key}`, checks.txn, await transport.post('/v3/kv/txn', body, opts));
      if (res.succeeded === true) {
        // The put's revision is the txn's revision, which is the new key's create_revision.
        const revision = u64(res.responses?.[0]?.response_put?.header?.revision ?? res.header?.revision);
        return { created: true, revision };
      }
      const kv = res.responses?.[0]?.response_range?.kvs?.[0];
      return { created: false, existing: kv === undefined ? null : toKv(kv) };
    },
    async putIf(key, value, condition, opts) {
      const k = b64(key);
      const body = { compare: [compareClause(k, condition, `put etcd key ${key}`)], success: [{ request_put: { key: k, value: b64(value) } }], failure: [{ request_range: { key: k } }] };
      const res = expect(`put etcd key ${key}`, checks.txn, await transport.post('/v3/kv/txn', body, opts));
      if (res.succeeded === true) return { ok: true, revision: u64(res.responses?.[0]?.response_put?.header?.revision ?? res.header?.revision) };
      const kv = res.responses?.[0]?.response_range?.kvs?.[0];
      return { ok: false, existing: kv === undefined ? null : toKv(kv) };
    },
    async deleteIf(key, condition, opts) {
      const k = b64(key);
      const body = { compare: [compareClause(k, condition, `delete etcd key ${key}`)], success: [{ request_delete_range: { key: k } }] };
      const res = expect(`delete etcd key ${key}`, checks.txn, await transport.post('/v3/kv/txn', body, opts));
      return res.succeeded === true && Number(res.responses?.[0]?.response_delete_range?.deleted ?? 0) > 0;
    },
    async put(key, value, lease, opts) {
      const body = { compare: [], success: [{ request_put: { key: b64(key), value: b64(value), lease } }] };
      const res = expect(`put etcd key ${key}`, checks.txn, await transport.post('/v3/kv/txn', body, opts));
      return u64(res.responses?.[0]?.response_put?.header?.revision ?? res.header?.revision);
    },
  };
}
