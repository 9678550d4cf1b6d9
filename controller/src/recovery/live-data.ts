/**
 * What a recovery would discard: the recovery guard asks every old member for its status and,
 * when some still answer with a leader, reads what the serving cluster holds (its revision, its
 * key count, the largest member's DB size and its member list), so the refusal, `--check` and a
 * recovery with `--replace-current-data` say exactly what the restore replaces.
 *
 * The key count is etcd's own (`/v3/kv/range` over the whole key space, `count_only`): no key or
 * value crosses the wire, so it is cheap on any database size.
 */
import { Type } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { EtcdClient } from '../../../shared/src/etcd/client.js';
import { clientUrl, hostOf, pkiInputs } from '../bootstrap/cluster-facts.js';
import type { ClusterSpec } from '../cluster/spec.js';
import type { RecoveryDeps } from './types.js';

/** The serving cluster's data, as far as it answered. */
export interface LiveData {
  /** Members that answer with a leader, as `h1 (follows leader 123)`; empty: quorum is lost. */
  serving: string[];
  /** The current revision (null when the count could not be read). */
  revision: number | null;
  /** Keys in the whole key space (null when unread). */
  keys: number | null;
  /** The largest DB size a serving member reported, in bytes. */
  dbSize: number;
  /** The member list the cluster reports (names, `(unstarted)` for an added member not yet started). */
  members: string[];
  /** Why the count or the member list could not be read (the summary says so instead of guessing). */
  unread?: string;
}

const CountAnswer = Type.Object({
  header: Type.Object({ revision: Type.Optional(Type.Union([Type.String(), Type.Number()])) }, { additionalProperties: true }),
  count: Type.Optional(Type.Union([Type.String(), Type.Number()])),
});

/** Asks every member of `spec` named in `members` (with the cluster's etcd client certificate); see {@link readLiveData}. */
export async function liveData(deps: RecoveryDeps, spec: ClusterSpec, members: readonly string[], signal?: AbortSignal): Promise<LiveData> {
  const pki = await deps.bootstrap.readPki(spec.name, pkiInputs(spec));
  const client = members.map((m) => pki.etcdClients.get(m)).find((c) => c !== undefined);
  if (client === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `no etcd client certificate for cluster ${spec.name} in its PKI`);
  const targets = members.map((name) => ({ name, url: clientUrl(hostOf(spec, name)) }));
  const etcd = deps.bootstrap.etcd({ endpoints: targets.map((t) => t.url), tls: { ca: pki.etcdCa.certPem, cert: client.certPem, key: client.keyPem }, timeoutMs: 2000 });
  return readLiveData(etcd, targets, signal);
}

/** Every member's status, in parallel; the cluster's contents only when some answer with a leader. */
export async function readLiveData(etcd: EtcdClient, members: readonly { name: string; url: string }[], signal?: AbortSignal): Promise<LiveData> {
  const call = signal === undefined ? {} : { signal };
  const answers = await Promise.allSettled(members.map((m) => etcd.status(m.url, call)));
  const serving: string[] = [];
  let dbSize = 0;
  answers.forEach((a, i) => {
    if (a.status !== 'fulfilled' || a.value.leader === '0') return;
    serving.push(`${members[i]?.name} (follows leader ${a.value.leader})`);
    dbSize = Math.max(dbSize, Number(a.value.dbSize) || 0);
  });
  if (serving.length === 0) return { serving, revision: null, keys: null, dbSize: 0, members: [] };
  return { serving, dbSize, ...(await readContents(etcd, call)) };
}

async function readContents(etcd: EtcdClient, call: { signal?: AbortSignal }): Promise<Pick<LiveData, 'revision' | 'keys' | 'members' | 'unread'>> {
  try {
    const all = Buffer.from([0]).toString('base64');
    const answer = await etcd.post('/v3/kv/range', { key: all, range_end: all, count_only: true }, { ...call, idempotent: true });
    if (!Value.Check(CountAnswer, answer)) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'etcd answered the key count with an unexpected shape');
    const list = await etcd.memberList(call);
    return {
      revision: Number(answer.header.revision ?? 0),
      keys: Number(answer.count ?? 0),
      members: list.map((m) => (m.name === '' ? `${m.id} (unstarted)` : m.isLearner ? `${m.name} (learner)` : m.name)),
    };
  } catch (err) {
    return { revision: null, keys: null, members: [], unread: messageOf(err) };
  }
}

/** One line: `revision 5678, 1234 keys, DB 2.0 MiB, members h1, h2, h3`. */
export function discardedSummary(live: LiveData): string {
  const size = `DB ${(live.dbSize / (1024 * 1024)).toFixed(1)} MiB`;
  if (live.unread !== undefined) return `revision and key count unread (${live.unread}), ${size}`;
  return `revision ${live.revision}, ${live.keys} keys, ${size}, members ${live.members.join(', ') || 'none listed'}`;
}
