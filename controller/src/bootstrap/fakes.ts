/**
 * Test doubles for the bootstrap (never used in production): a fleet that "runs" roles by changing
 * a model of the hosts — which etcd members exist (learner or voter), which API servers and nodes
 * are up — with the same idempotence as the real modules (adding an existing member is `ok`,
 * promoting a voter is `ok`, a second kubeadm init is `ok`). Its runs finish at once, fail or hang
 * on demand, and are recorded in order, so tests assert the bootstrap's order, its rollbacks and
 * that a resumed operation repeats no change.
 */
import { BallastError } from '../../../shared/src/errors.js';
import type { EtcdClient, EtcdMember } from '../../../shared/src/etcd/client.js';
import type { RunDocument } from '../../../shared/src/runs-api.js';
import type { KubeApi } from '../kube/client.js';
import type { RunStarter } from './role-runner.js';

/** One run as the fleet saw it. */
export interface FakeRunRecord {
  id: string;
  role: string;
  host: string;
  check: boolean;
  /** `etcd-member` action, `kube-control-plane` kubeadm action. */
  action?: string;
  /** For etcd-member: the member the change is about. */
  member?: string;
  changed: number;
}

interface ModelMember {
  id: string;
  name: string;
  peerUrl: string;
  learner: boolean;
  started: boolean;
}

/** The model of the hosts plus the {@link RunStarter} that changes it. */
export class FakeFleet implements RunStarter {
  readonly runs: FakeRunRecord[] = [];
  readonly members: ModelMember[] = [];
  readonly apiServers = new Set<string>();
  readonly nodes = new Set<string>();
  readonly files = new Set<string>();
  /** `role/host` (or `role/host/action`; the etcd role's install-only runs are `etcd-install/host`) → failures left. */
  readonly failures = new Map<string, number>();
  /** `role/host` keys whose next run never finishes (a controller crash mid-step). */
  readonly hang = new Set<string>();
  /** `/readyz` asked while no API server runs: a probe that could only have timed out on real hosts. */
  readyzWithoutApi = 0;
  private readonly docs = new Map<string, RunDocument>();
  /** `role:host` → the vars of the last run that converged it. */
  private readonly applied = new Map<string, string>();
  private nextId = 1;
  private nextMember = 0x100;

  start(request: { role: string; hosts: string[]; check: boolean; diff: boolean; vars: Record<string, unknown> }): RunDocument {
    const host = request.hosts[0] ?? '';
    const id = `run-${(this.nextId++).toString(16).padStart(12, '0')}`;
    const action = this.actionOf(request.role, request.vars);
    const member = typeof request.vars.member === 'string' ? request.vars.member : undefined;
    const record: FakeRunRecord = { id, role: request.role, host, check: request.check, ...(action === undefined ? {} : { action }), ...(member === undefined ? {} : { member }), changed: 0 };
    this.runs.push(record);
    // The etcd role's install-only runs (the hosts phase) are keyed apart from the runs that start etcd.
    const key = action === 'install' ? `${request.role}-install/${host}` : `${request.role}/${host}`;
    if (this.hang.delete(key)) {
      const doc = this.doc(id, request.role, host, 'running', 0);
      this.docs.set(id, doc);
      return doc;
    }
    const failKey = [key, `${key}/${action ?? ''}`].find((k) => (this.failures.get(k) ?? 0) > 0);
    if (failKey !== undefined) {
      this.failures.set(failKey, (this.failures.get(failKey) ?? 1) - 1);
      const doc = this.doc(id, request.role, host, 'failed', 0, 'BALLAST_ERR_COMMAND_FAILED', `${request.role} failed on ${host} (injected)`);
      this.docs.set(id, doc);
      return doc;
    }
    record.changed = request.check ? 0 : this.apply(request.role, host, request.vars, action);
    const doc = this.doc(id, request.role, host, 'succeeded', record.changed);
    this.docs.set(id, doc);
    return doc;
  }

  get(id: string): RunDocument {
    const doc = this.docs.get(id);
    if (doc === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `run ${id}`);
    return doc;
  }

  async waitForChange(_id: string, _after: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    await new Promise<void>((resolve) => {
      const onAbort = () => {
        clearTimeout(t);
        resolve();
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.min(waitMs, 20));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async cancel(id: string): Promise<RunDocument> {
    return this.get(id);
  }

  /** Runs of `role` (optionally with `action`) that changed something, as `host` or `host:member`. */
  changes(role: string, action?: string): string[] {
    return this.runs
      .filter((r) => r.role === role && (action === undefined || r.action === action) && r.changed > 0)
      .map((r) => (r.member === undefined ? r.host : `${r.host}:${r.member}`));
  }

  /** The fleet's etcd as a client would see it (members, status, health). */
  etcdClient(): EtcdClient {
    const view = (m: ModelMember): EtcdMember => ({ id: m.id, name: m.started ? m.name : '', peerUrls: [m.peerUrl], clientUrls: m.started ? [m.peerUrl.replace(':2380', ':2379')] : [], isLearner: m.learner });
    const unsupported = async (): Promise<never> => {
      throw new BallastError('BALLAST_ERR_UNSUPPORTED', 'not modelled');
    };
    return {
      endpoints: [],
      memberList: async () => this.members.map(view),
      memberAdd: unsupported,
      memberPromote: unsupported,
      memberRemove: unsupported,
      status: async (endpoint) => {
        const m = this.members.find((x) => x.started && endpoint === x.peerUrl.replace(':2380', ':2379'));
        if (m === undefined) throw new BallastError('BALLAST_ERR_ETCD_UNAVAILABLE', `${endpoint} does not answer`);
        return { memberId: m.id, leader: this.members[0]?.id ?? '0', version: '3.4.23', raftIndex: '1', raftTerm: '1', dbSize: '1', isLearner: m.learner, errors: [] };
      },
      leaseGrant: unsupported,
      leaseKeepAlive: unsupported,
      leaseRevoke: unsupported,
      get: async () => null,
      post: unsupported,
    };
  }

  /** The fleet's Kubernetes API: ready once an API server runs, nodes as registered. */
  kubeApi(): KubeApi {
    return {
      readyz: async () => {
        if (this.apiServers.size === 0) this.readyzWithoutApi += 1;
        return { ok: this.apiServers.size > 0, body: this.apiServers.size > 0 ? 'ok' : '[-]etcd failed' };
      },
      nodes: async () => [...this.nodes].map((name) => ({ name, ready: true, roles: this.apiServers.has(name) ? ['control-plane'] : [], notReadySince: null })),
      apply: async () => [{ apiVersion: 'v1', kind: 'Namespace', name: 'kube-flannel', action: this.mark('cni') > 0 ? 'created' : 'unchanged' }],
    };
  }

  /** 1 the first time `key` is marked, 0 after: a converging change. */
  private mark(key: string): number {
    if (this.files.has(key)) return 0;
    this.files.add(key);
    return 1;
  }

  private actionOf(role: string, vars: Record<string, unknown>): string | undefined {
    if (role === 'etcd-member') return String(vars.action);
    if (role === 'etcd' && vars.start === false) return 'install';
    if (role === 'kube-control-plane') return String((vars.kubeadm as { action?: unknown } | undefined)?.action);
    return undefined;
  }

  /** Converges the model; returns how many things changed (0: already so). */
  private apply(role: string, host: string, vars: Record<string, unknown>, action: string | undefined): number {
    const once = (key: string): number => this.mark(key);
    switch (role) {
      case 'etcd': {
        // Install only (the hosts phase): files, nothing started, no membership.
        if (action === 'install') return once(`etcd-installed:${host}`);
        const member = this.members.find((m) => m.name === host) ?? this.members.find((m) => !m.started && m.peerUrl.includes(String(vars.advertiseAddress)));
        if (member === undefined) {
          if (vars.initialClusterState !== 'new') throw new Error(`etcd on ${host} started with "existing" but was never added`);
          this.members.push({ id: String(this.nextMember++), name: host, peerUrl: `https://${String(vars.advertiseAddress)}:2380`, learner: false, started: true });
          return 1;
        }
        if (member.started) return 0;
        member.started = true;
        member.name = host;
        return 1;
      }
      case 'etcd-member': {
        const peerUrl = (vars.peerUrls as string[])[0] ?? '';
        const existing = this.members.find((m) => m.peerUrl === peerUrl);
        if (action === 'add') {
          if (existing !== undefined) return 0;
          this.members.push({ id: String(this.nextMember++), name: String(vars.member), peerUrl, learner: true, started: false });
          return 1;
        }
        if (action === 'promote') {
          if (existing === undefined) throw new Error(`promote of unknown member ${String(vars.member)}`);
          if (!existing.learner) return 0;
          existing.learner = false;
          return 1;
        }
        if (existing === undefined) return 0;
        this.members.splice(this.members.indexOf(existing), 1);
        return 1;
      }
      case 'etcd-wipe':
        return once(`wiped:${host}:${this.runs.length}`);
      case 'reset':
        this.nodes.delete(host);
        this.apiServers.delete(host);
        return once(`reset:${host}`);
      case 'kube-control-plane':
        this.apiServers.add(host);
        this.nodes.add(host);
        return once(`kubeadm:${host}:${action}`);
      case 'kube-worker':
        this.nodes.add(host);
        return once(`kubeadm:${host}:join`);
      default: {
        // A role converges its files to what the vars say: a change is a run with other vars than the last.
        const key = `${role}:${host}`;
        const wanted = JSON.stringify(vars);
        if (this.applied.get(key) === wanted) return 0;
        this.applied.set(key, wanted);
        return 1;
      }
    }
  }

  private doc(id: string, role: string, host: string, status: 'succeeded' | 'failed' | 'running', changed: number, code?: string, message?: string): RunDocument {
    const at = new Date().toISOString();
    const error = code === undefined ? null : { code, message: message ?? '' };
    return {
      id,
      role,
      check: false,
      diff: false,
      status,
      createdAt: at,
      createdBy: 'test',
      finishedAt: status === 'running' ? null : at,
      cancelRequestedBy: null,
      vars: {},
      seq: 1,
      hosts: [
        {
          name: host,
          status,
          startedAt: at,
          finishedAt: status === 'running' ? null : at,
          current: null,
          recap: { ok: changed > 0 ? 0 : 1, changed, failed: status === 'failed' ? 1 : 0, skipped: 0 },
          error,
          plan: [],
          results: [],
        },
      ],
    } as unknown as RunDocument;
  }
}
