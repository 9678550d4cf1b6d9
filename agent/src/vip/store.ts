/**
 * The election's etcd keys, over {@link EtcdLeaseKv}:
 * - `/ballast/vip/<name>/holder` → `{"host","since","nonce","beat"}`, no lease. Created only when
 *   absent (txn: create_revision == 0); its create_revision is the term. The holder rewrites it
 *   every renewal interval (txn: create_revision == term), so its mod_revision moves while the
 *   holder lives; a candidate that sees the same mod_revision for the hold timeout deletes it
 *   (txn: mod_revision == what it saw) and then campaigns like anyone else.
 * - `/ballast/vip/<name>/handover` → `{"to","until"}`, attached to its own short lease, written by a
 *   holder that hands the VIP to a chosen host.
 *
 * Why create_revision is a sound fencing token: etcd's revision is a cluster-wide counter that
 * only grows (compaction drops old versions, never the counter). Every acquisition creates the key
 * afresh (a takeover deletes it first: etcd refuses a delete and a put of one key in one txn), so
 * each acquisition's create_revision is larger than that of every earlier one. (A restore from
 * snapshot keeps the revision too.) The term is therefore not written into the value: it is known
 * only after the put.
 *
 * Why heartbeat writes rather than an etcd lease (the first design): etcd 3.4's lessor revokes
 * expired leases on a 500 ms tick, which added 0–500 ms to every crash failover, and lease TTLs
 * are whole seconds. A heartbeat's staleness is measured by the candidate itself to the
 * millisecond (README.md, "The timing proof"). Cost: one small raft write per renewal interval.
 */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { EtcdLeaseKv, LeasedKeyValue } from '../etcd/lease.js';
import type { ElectionStore, ElectionView, HandoverRecord, HolderRecord, HolderValue } from './ports.js';

/** The key prefix of one VIP's election. */
export function vipKeyPrefix(name: string): string {
  return `/ballast/vip/${name}`;
}

/** A fresh acquisition nonce. */
export function newNonce(): string {
  return randomBytes(9).toString('base64url');
}

const HolderValueSchema = Type.Object({ host: Type.String({ maxLength: 253 }), since: Type.Number(), nonce: Type.Optional(Type.String({ maxLength: 64 })), beat: Type.Optional(Type.Number()) });
const HandoverValueSchema = Type.Object({ to: Type.String({ maxLength: 253 }), until: Type.Number() });
const checkHolder = TypeCompiler.Compile(HolderValueSchema);
const checkHandover = TypeCompiler.Compile(HandoverValueSchema);

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** A holder key someone wrote in another shape still blocks the election (it exists): shown as host "?". */
function toHolder(kv: LeasedKeyValue): HolderRecord {
  const v = parseJson(kv.value);
  const ok = checkHolder.Check(v);
  return { host: ok ? v.host : '?', since: ok ? v.since : 0, nonce: ok ? (v.nonce ?? '') : '', term: kv.createRevision, revision: kv.modRevision };
}

function toHandover(kv: LeasedKeyValue): HandoverRecord | null {
  const v = parseJson(kv.value);
  return checkHandover.Check(v) ? { to: v.to, until: v.until } : null;
}

const encode = (v: HolderValue) => JSON.stringify({ host: v.host, since: v.since, nonce: v.nonce, beat: v.beat });

/** The {@link ElectionStore} for VIP `name`. */
export function createEtcdVipStore(opts: { kv: EtcdLeaseKv; name: string }): ElectionStore {
  const holderKey = `${vipKeyPrefix(opts.name)}/holder`;
  const handoverKey = `${vipKeyPrefix(opts.name)}/handover`;
  const { kv } = opts;
  return {
    async read(timeoutMs): Promise<ElectionView> {
      const [holder, handover] = await kv.getMany([holderKey, handoverKey], { timeoutMs });
      return { holder: holder ? toHolder(holder) : null, handover: handover ? toHandover(handover) : null };
    },
    async tryAcquire(value, timeoutMs) {
      const out = await kv.createIfAbsent(holderKey, encode(value), '0', { timeoutMs });
      if (out.created) return { won: true, term: out.revision };
      return { won: false, holder: out.existing ? toHolder(out.existing) : null };
    },
    async beat(term, value, timeoutMs) {
      return (await kv.putIf(holderKey, encode(value), { create: term }, { timeoutMs })).ok;
    },
    deleteHolder: (condition, timeoutMs) => kv.deleteIf(holderKey, condition, { timeoutMs }),
    async writeHandover(record, ttlSeconds, timeoutMs) {
      const lease = await kv.grant(ttlSeconds, { timeoutMs });
      await kv.put(handoverKey, JSON.stringify(record), lease.id, { timeoutMs });
    },
  };
}
