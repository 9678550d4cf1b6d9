/**
 * Test double for disaster recovery (never used in production), on top of the membership
 * tests' {@link ReplaceFleet}: etcd answers status with a leader only while a majority of its
 * members run (etcd's CheckQuorum); the recovery roles act on the model as they do on hosts —
 * `static-pods` stops and starts the API server, `etcd-stop` stops a member, `etcd-restore`
 * gives a member a new identity in a new cluster (not started) and refuses like the agent while
 * the old cluster has quorum or the local member runs, and the etcd role with
 * ETCD_FORCE_NEW_CLUSTER leaves its host the only member; `etcd-data` (and the etcd role with
 * requireData) refuses on a host in `dataLost`; a count-only range answers the model's
 * `liveRevision` and `liveKeys` while it has quorum.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { EtcdClient } from '../../../shared/src/etcd/client.js';
import type { RunDocument } from '../../../shared/src/runs-api.js';
import { ReplaceFleet } from '../membership/fakes.js';

/** One role run as the model saw it (vars included). */
export interface RecoverCall {
  role: string;
  host: string;
  check: boolean;
  vars: Record<string, unknown>;
}

export class RecoverFleet extends ReplaceFleet {
  readonly calls: RecoverCall[] = [];
  /** Hosts whose kube-apiserver manifest is parked. */
  readonly parked = new Set<string>();
  /** `host` → the restore ids its data holds (the agent's marker). */
  readonly restored = new Map<string, string>();
  /** Data dirs set aside, as `host:restoreId`. */
  readonly setAside: string[] = [];
  /** Hosts whose etcd data directory is gone (the agent's etcd_data `require` refuses there). */
  readonly dataLost = new Set<string>();
  private nextRestoredId = 0x900;
  /** What the serving cluster holds (read by the guard through `/v3/kv/range` count_only). */
  liveRevision = 5678;
  liveKeys = 1234;
  /** When set, the key count read fails with this message. */
  countFails: string | null = null;

  /** Quorum lost: these members' etcd is down for good (data destroyed). */
  loseQuorum(dead: string[]): void {
    for (const m of this.members) if (dead.includes(m.name)) m.started = false;
  }

  hasQuorum(): boolean {
    return this.members.filter((m) => m.started && !m.learner).length * 2 > this.members.filter((m) => !m.learner).length;
  }

  override etcdClient(): EtcdClient {
    const inner = super.etcdClient();
    return {
      ...inner,
      status: async (endpoint, opts) => {
        const s = await inner.status(endpoint, opts);
        return this.hasQuorum() ? { ...s, dbSize: '2097152' } : { ...s, leader: '0' };
      },
      post: async (path, body) => {
        const b = body as { count_only?: boolean };
        if (path !== '/v3/kv/range' || b.count_only !== true) return inner.post(path, body);
        if (this.countFails !== null) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', this.countFails);
        if (!this.hasQuorum()) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', 'no leader');
        return { header: { revision: String(this.liveRevision) }, count: String(this.liveKeys) };
      },
    };
  }

  override start(request: { role: string; hosts: string[]; check: boolean; diff: boolean; vars: Record<string, unknown> }): RunDocument {
    const host = request.hosts[0] ?? '';
    this.calls.push({ role: request.role, host, check: request.check, vars: request.vars });
    if (!request.check && !this.offline.has(host) && !this.hang.has(`${request.role}/${host}`)) this.act(request.role, host, request.vars);
    return super.start(request);
  }

  private act(role: string, host: string, vars: Record<string, unknown>): void {
    const member = this.members.find((m) => m.name === host || m.peerUrl.includes(`//${String(vars.advertiseAddress)}:`));
    if ((role === 'etcd-data' || (role === 'etcd' && vars.requireData === true)) && this.dataLost.has(host)) {
      throw new BallastError('BALLAST_ERR_ETCD_DATA_LOST', `failed to keep the etcd data of ${host}: /var/lib/etcd/member holds no etcd data`);
    }
    if (role === 'static-pods') {
      if (vars.state === 'parked' && this.apiServers.delete(host)) this.parked.add(host);
      if (vars.state === 'active' && this.parked.delete(host)) this.apiServers.add(host);
    } else if (role === 'etcd-stop' && member !== undefined) {
      member.started = false;
    } else if (role === 'etcd-restore' && vars.action !== 'assert-no-quorum') {
      const id = String(vars.restoreId);
      if (vars.action === 'restore' && this.restored.get(host) === id) return;
      if (this.hasQuorum()) throw new BallastError('BALLAST_ERR_ETCD_STILL_SERVING', `the old cluster still has quorum (${host})`);
      if (member?.started === true) throw new BallastError('BALLAST_ERR_ETCD_STILL_SERVING', `the local member answers (${host})`);
      if (vars.action === 'set-aside') {
        this.setAside.push(`${host}:${id}`);
        if (member !== undefined) this.members.splice(this.members.indexOf(member), 1);
        return;
      }
      this.restored.set(host, id);
      // A new cluster: the member keeps its name and peer URL under a new ID.
      if (member !== undefined) member.id = String(this.nextRestoredId++);
    } else if (role === 'etcd' && member !== undefined && (vars.extraEnv as Record<string, string> | undefined)?.ETCD_FORCE_NEW_CLUSTER === 'true') {
      for (const m of [...this.members]) if (m !== member) this.members.splice(this.members.indexOf(m), 1);
      member.learner = false;
    }
  }
}
