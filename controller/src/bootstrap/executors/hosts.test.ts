/**
 * The hosts phase as one step: each host runs its chain in order and at its own pace (a slow host
 * holds up nobody), a failed host stops its own chain only and the step names it, and the images
 * note survives the merge of the old steps.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/src/log.js';
import type { Recap, RunDocument } from '../../../../shared/src/runs-api.js';
import type { OperationRecord } from '../../ops/records.js';
import type { StepContext, StepView } from '../../ops/types.js';
import type { BootstrapDeps } from '../deps.js';
import type { RunStarter } from '../role-runner.js';
import { SMALL_CLUSTER_DOC } from '../testing.js';
import { hostsInstallExecutor } from './hosts.js';

/** Runs that end when their host's gate opens; `fail` fails `role@host`; every start is logged. */
function fleet(opts: { fail?: string; recap?: Recap; slow?: string } = {}) {
  const log: string[] = [];
  const docs = new Map<string, RunDocument>();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const recap = opts.recap ?? { ok: 1, changed: 1, failed: 0, skipped: 0 };
  const runs: RunStarter = {
    start(request) {
      const host = request.hosts[0] ?? '?';
      const id = `run-${docs.size + 1}`;
      log.push(`${request.role}@${host}`);
      const at = new Date(0).toISOString();
      const failed = opts.fail === `${request.role}@${host}`;
      const doc: RunDocument = {
        id, role: request.role, check: request.check, diff: false, status: failed ? 'failed' : 'succeeded', createdAt: at, createdBy: 'op-1', finishedAt: at,
        cancelRequestedBy: null, seq: 1, recap, vars: {},
        hosts: [{ name: host, status: failed ? 'failed' : 'succeeded', startedAt: at, finishedAt: at, current: null, recap, error: failed ? { code: 'BALLAST_ERR_RUN_FAILED', message: 'disk full' } : null, plan: [], results: [] }],
      };
      docs.set(id, { ...doc, status: 'running' });
      const slow = opts.slow === host;
      void (slow ? gate : Promise.resolve()).then(() => docs.set(id, doc));
      return { ...doc, status: 'running' };
    },
    get: (id) => docs.get(id) as RunDocument,
    waitForChange: async (id) => {
      while (docs.get(id)?.status === 'running') await new Promise((r) => setTimeout(r, 2));
    },
    cancel: async (id) => docs.get(id) as RunDocument,
  };
  return { runs, log, release: () => release() };
}

const pki = { etcdCa: { certPem: 'ca' }, etcdClients: new Map(), etcdPeers: new Map(), etcdServers: new Map() };

async function execute(f: ReturnType<typeof fleet>, hosts: string[]) {
  const deps = { runs: f.runs, pki: async () => pki } as unknown as BootstrapDeps;
  const view: StepView<{ hosts: string[] }> = { key: 'hosts', phase: 'hosts', host: null, title: 'hosts', kind: 'hosts-install', args: { hosts }, attempt: 1 };
  const ctx: StepContext = {
    signal: new AbortController().signal,
    log: silentLogger(),
    op: { id: 'op-1', input: { spec: SPEC } } as unknown as OperationRecord,
    progress: () => {},
    resultOf: () => undefined,
  };
  return hostsInstallExecutor(deps).execute(view, ctx);
}

const SPEC = {
  ...SMALL_CLUSTER_DOC,
  hosts: [...SMALL_CLUSTER_DOC.hosts, { name: 'w2', address: '198.18.0.15', roles: ['worker'] }],
};
const workers = ['w1', 'w2'];

describe('hosts-install step', () => {
  it('runs each host’s chain in order; a host still on its first role holds up no other host', async () => {
    const [slow = '', fast = ''] = workers;
    const f = fleet({ slow });
    const step = execute(f, [slow, fast]);
    // The fast host finishes its whole chain while the slow one is still in os-prep.
    for (let i = 0; i < 200 && !f.log.includes(`images@${fast}`); i++) await new Promise((r) => setTimeout(r, 5));
    expect(f.log.filter((l) => l.endsWith(`@${fast}`))).toEqual([`os-prep@${fast}`, `containerd@${fast}`, `kube-node@${fast}`, `images@${fast}`]);
    expect(f.log.filter((l) => l.endsWith(`@${slow}`))).toEqual([`os-prep@${slow}`]);
    f.release();
    const outcome = await step;
    expect(outcome).toMatchObject({ changed: true, message: expect.stringContaining('2 hosts installed (8 role runs)') });
    expect((outcome.data as { runs: string[] }).runs).toHaveLength(8);
  });

  it('a failed host stops its own chain; the others finish, then the step fails naming it', async () => {
    const [bad = '', good = ''] = workers;
    const f = fleet({ fail: `containerd@${bad}` });
    const err = await execute(f, [bad, good]).catch((e: unknown) => e);
    expect(err).toMatchObject({ message: expect.stringMatching(new RegExp(`^1 of 2 hosts failed: containerd on ${bad} failed`)) });
    expect(f.log).toContain(`images@${good}`);
    expect(f.log).not.toContain(`kube-node@${bad}`);
  });

  it('says when the mirror holds no container images (the images role rendered nothing)', async () => {
    const outcome = await execute(fleet({ recap: { ok: 0, changed: 0, failed: 0, skipped: 0 } }), workers);
    expect(outcome.message).toContain('the mirror holds no container images for 2 hosts: kubeadm and kubelet pull them from the registry');
  });
});
