/**
 * The host-role step with the images role: per-host vars (control planes get the control-plane
 * images), and the plain "nothing imported, the registry is used" message when the mirror holds no
 * images — which is what `cluster create --check` then shows.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../shared/src/log.js';
import type { Recap, RunDocument } from '../../../../shared/src/runs-api.js';
import type { OperationRecord } from '../../ops/records.js';
import type { StepContext, StepView } from '../../ops/types.js';
import type { BootstrapDeps } from '../deps.js';
import type { RunStarter } from '../role-runner.js';
import { SMALL_CLUSTER_DOC } from '../testing.js';
import { hostRoleExecutor } from './prepare.js';

const SPEC = SMALL_CLUSTER_DOC;

/** Runs that end at once with `recap` on every host, remembering the vars each host got. */
function runs(recap: Recap): RunStarter & { vars: Record<string, Record<string, unknown>> } {
  const vars: Record<string, Record<string, unknown>> = {};
  const doc = (id: string, host: string): RunDocument => {
    const at = new Date(0).toISOString();
    return {
      id, role: 'images', check: false, diff: false, status: 'succeeded', createdAt: at, createdBy: 'op-1', finishedAt: at, cancelRequestedBy: null, seq: 1, recap, vars: {},
      hosts: [{ name: host, status: 'succeeded', startedAt: at, finishedAt: at, current: null, recap, error: null, plan: [], results: [] }],
    };
  };
  return {
    vars,
    start(request) {
      const host = request.hosts[0] ?? '?';
      vars[host] = request.vars;
      return doc(`run-${host}`, host);
    },
    get: (id) => doc(id, id.slice(4)),
    waitForChange: async () => {},
    cancel: async (id) => doc(id, id.slice(4)),
  };
}

async function step(recap: Recap) {
  const r = runs(recap);
  const executor = hostRoleExecutor({ runs: r } as unknown as BootstrapDeps);
  const view: StepView<{ role: string; hosts: string[] }> = { key: 'images', phase: 'hosts', host: null, title: 'images', kind: 'host-role', args: { role: 'images', hosts: ['h1', 'w1'] }, attempt: 1 };
  const ctx: StepContext = {
    signal: new AbortController().signal,
    log: silentLogger(),
    op: { input: { spec: SPEC } } as unknown as OperationRecord,
    progress: () => {},
    resultOf: () => undefined,
  };
  return { outcome: await executor.execute(view, ctx), vars: r.vars };
}

describe('host-role step: images', () => {
  it('says that nothing is imported and the registry is used when the mirror holds no images (no tasks rendered)', async () => {
    const { outcome, vars } = await step({ ok: 0, changed: 0, failed: 0, skipped: 0 });
    expect(outcome).toMatchObject({ changed: false, message: 'the mirror holds no container images for these hosts: kubeadm and kubelet pull them from the registry' });
    expect(vars.h1).toMatchObject({ controlPlane: true, kubernetesVersion: expect.any(String) });
    expect(vars.w1).toMatchObject({ controlPlane: false });
  });

  it('reports the recap when images were imported', async () => {
    const { outcome } = await step({ ok: 1, changed: 2, failed: 0, skipped: 0 });
    expect(outcome).toMatchObject({ changed: true, message: 'images on 2 hosts: ok=2 changed=4 failed=0 skipped=0' });
  });
});
