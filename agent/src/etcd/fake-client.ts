/**
 * A hand-written in-memory {@link EtcdClient} (STYLE.md §12) for module tests: a member list,
 * which client URLs answer status, scripted refusals, and a record of every mutating call.
 * Plain code with no test-framework imports.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { EtcdClient, EtcdClientOptions, EtcdConnector, EtcdKeyValue, EtcdMember, EtcdStatus } from './client.js';

/** Options of {@link FakeEtcd}. */
export interface FakeEtcdInit {
  members?: EtcdMember[];
  /** Member ids that answer status (with a leader); default every started member. */
  healthy?: string[];
}

/** The fake cluster; `connect` is the {@link EtcdConnector} to hand to a module. */
export class FakeEtcd {
  members: EtcdMember[];
  healthy: Set<string>;
  /** Mutating calls as "add <peer urls> learner", "promote <id>", "remove <id>". */
  readonly calls: string[] = [];
  /** Every client built, with its options (to check endpoints and TLS). */
  readonly connections: EtcdClientOptions[] = [];
  /** Refusals the next promotes get, in order (etcd messages). */
  promoteRefusals: string[] = [];
  /** Refusals the next adds and removes get, in order (etcd messages, as gRPC Unavailable answers). */
  changeRefusals: string[] = [];
  /** When set, every call fails as if no endpoint answered. */
  unreachable = false;
  /** Called before a promote refusal is used up, e.g. to bring the learner up meanwhile. */
  onPromoteAttempt: ((attempt: number) => void) | null = null;
  private promoteAttempts = 0;
  private nextId = 1000n;

  constructor(init: FakeEtcdInit = {}) {
    this.members = (init.members ?? []).map((m) => ({ ...m }));
    this.healthy = new Set(init.healthy ?? this.members.filter((m) => m.clientUrls.length > 0).map((m) => m.id));
  }

  readonly connect: EtcdConnector = (opts) => {
    this.connections.push(opts);
    return this.client(opts.endpoints);
  };

  private refuseChange(endpoints: readonly string[], what: string): void {
    const refusal = this.changeRefusals.shift();
    if (refusal !== undefined) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to ${what} an etcd member: ${endpoints[0]}: ${refusal}`);
  }

  private client(endpoints: readonly string[]): EtcdClient {
    const reachable = () => {
      if (this.unreachable) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to call etcd: no etcd endpoint answered: ${endpoints.join(', ')}: ECONNREFUSED`);
    };
    const find = (id: string) => {
      const m = this.members.find((x) => x.id === id);
      if (m === undefined) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', 'etcd refused: etcdserver: member not found');
      return m;
    };
    return {
      endpoints,
      memberList: async () => {
        reachable();
        return this.members.map((m) => ({ ...m, peerUrls: [...m.peerUrls], clientUrls: [...m.clientUrls] }));
      },
      memberAdd: async (peerUrls, o) => {
        reachable();
        this.calls.push(`add ${peerUrls.join(',')}${o.isLearner ? ' learner' : ''}`);
        this.refuseChange(endpoints, 'add');
        const member: EtcdMember = { id: String(this.nextId++), name: '', peerUrls: [...peerUrls], clientUrls: [], isLearner: o.isLearner };
        this.members.push(member);
        return { ...member };
      },
      memberPromote: async (id) => {
        reachable();
        this.onPromoteAttempt?.(++this.promoteAttempts);
        this.calls.push(`promote ${id}`);
        const refusal = this.promoteRefusals.shift();
        if (refusal !== undefined) throw new BallastError('BALLAST_ERR_ETCD_REFUSED', `etcd at ${endpoints[0]} refused /v3/cluster/member/promote: ${refusal}`);
        find(id).isLearner = false;
      },
      memberRemove: async (id) => {
        reachable();
        this.calls.push(`remove ${id}`);
        this.refuseChange(endpoints, 'remove');
        find(id);
        this.members = this.members.filter((m) => m.id !== id);
        this.healthy.delete(id);
      },
      status: async (endpoint): Promise<EtcdStatus> => {
        reachable();
        const m = this.members.find((x) => x.clientUrls.includes(endpoint));
        if (m === undefined || !this.healthy.has(m.id)) {
          throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `failed to get the status of etcd at ${endpoint}: ECONNREFUSED`);
        }
        return { memberId: m.id, leader: this.members[0]?.id ?? '0', version: '3.4.23', raftIndex: '10', raftTerm: '2', dbSize: '20480', isLearner: m.isLearner, errors: [] };
      },
      leaseGrant: async (ttlSeconds) => ({ id: String(this.nextId++), ttlSeconds }),
      leaseKeepAlive: async () => ({ ttlSeconds: 10 }),
      leaseRevoke: async () => {},
      get: async (): Promise<EtcdKeyValue | null> => null,
      post: async (path) => {
        throw new BallastError('BALLAST_ERR_UNSUPPORTED', `the fake etcd does not serve ${path}`);
      },
    };
  }
}

/** A started member hN: id "N", peer https://10.0.0.N:2380, client https://10.0.0.N:2379. */
export function fakeMember(n: number, opts: { learner?: boolean; started?: boolean } = {}): EtcdMember {
  const started = opts.started ?? true;
  return {
    id: String(n),
    name: started ? `h${n}` : '',
    peerUrls: [`https://10.0.0.${n}:2380`],
    clientUrls: started ? [`https://10.0.0.${n}:2379`] : [],
    isLearner: opts.learner ?? false,
  };
}
