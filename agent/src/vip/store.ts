/**
 * The election's etcd keys, over {@link EtcdLeaseKv}:
 * - `/ballast/vip/<name>/holder` → `{"host","since"}`, attached to the holder's lease, created only
 *   when absent (txn: create_revision == 0). Its create_revision is the term.
 * - `/ballast/vip/<name>/handover` → `{"to","until"}`, attached to its own short lease, written by a
 *   holder that hands the VIP to a chosen host.
 *
 * Why create_revision is a sound fencing token: etcd's revision is a cluster-wide counter that
 * only grows (compaction drops old versions, never the counter). A holder key exists only while
 * its lease lives, and is created afresh by each acquisition, so each acquisition's
 * create_revision is larger than that of every earlier one. (A restore from snapshot keeps the
 * revision too.) The term is therefore not written into the value: it is known only after the put.
 */
import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { EtcdLeaseKv, LeasedKeyValue } from '../etcd/lease.js';
import type { ElectionView, EtcdLeasePort, HandoverRecord, HolderRecord } from './ports.js';

/** The key prefix of one VIP's election. */
export function vipKeyPrefix(name: string): string {
  return `/ballast/vip/${name}`;
}

const HolderValueSchema = Type.Object({ host: Type.String({ maxLength: 253 }), since: Type.Number(), term: Type.Optional(Type.String()) });
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
  return { host: ok ? v.host : '?', since: ok ? v.since : 0, lease: kv.lease, term: kv.createRevision };
}

function toHandover(kv: LeasedKeyValue): HandoverRecord | null {
  const v = parseJson(kv.value);
  return checkHandover.Check(v) ? { to: v.to, until: v.until } : null;
}

/** The {@link EtcdLeasePort} for VIP `name`. */
export function createEtcdVipStore(opts: { kv: EtcdLeaseKv; name: string }): EtcdLeasePort {
  const holderKey = `${vipKeyPrefix(opts.name)}/holder`;
  const handoverKey = `${vipKeyPrefix(opts.name)}/handover`;
  const { kv } = opts;
  return {
    grant: (ttlSeconds, timeoutMs) => kv.grant(ttlSeconds, { timeoutMs }),
    keepAlive: (id, timeoutMs) => kv.keepAlive(id, { timeoutMs }),
    revoke: (id, timeoutMs) => kv.revoke(id, { timeoutMs }),
    async read(timeoutMs): Promise<ElectionView> {
      const [holder, handover] = await kv.getMany([holderKey, handoverKey], { timeoutMs });
      return { holder: holder ? toHolder(holder) : null, handover: handover ? toHandover(handover) : null };
    },
    async tryAcquire(record, lease, timeoutMs) {
      const out = await kv.createIfAbsent(holderKey, JSON.stringify({ host: record.host, since: record.since }), lease, { timeoutMs });
      if (out.created) return { won: true, term: out.revision };
      return { won: false, holder: out.existing ? toHolder(out.existing) : null };
    },
    async writeHandover(record, ttlSeconds, timeoutMs) {
      const lease = await kv.grant(ttlSeconds, { timeoutMs });
      await kv.put(handoverKey, JSON.stringify(record), lease.id, { timeoutMs });
    },
  };
}
