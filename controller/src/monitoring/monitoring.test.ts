import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { LiveHost } from '../hub/host-tracker.js';
import { createCa } from '../pki/ca.js';
import { type TempStore, tempStore } from '../store/testing.js';
import { installMonitoring, type Monitoring } from './monitoring.js';

const NOW = Date.parse('2026-12-07T00:00:00Z');
const DAY = 86_400_000;

/** The value of every sample of `name` in exposition text, keyed by its label text (`{a="b"}`). */
function samples(text: string, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m !== null && m[1] === name) out[m[2] ?? ''] = Number(m[3]);
  }
  return out;
}

function live(name: string, state: LiveHost['state'], lastHeartbeatAt: number | null, failingChecks: string[] = []): LiveHost {
  return { id: `h_${name}`, name, state, stateSince: NOW, lastHeartbeatAt, failingChecks, session: null };
}

describe('monitoring metrics (real SQLite store)', () => {
  let tmp: TempStore | null = null;
  let monitoring: Monitoring | null = null;
  const errors: string[] = [];
  afterEach(async () => {
    monitoring?.close();
    await tmp?.cleanup();
    tmp = null;
    errors.length = 0;
  });

  async function setup(hosts: LiveHost[]) {
    tmp = await tempStore('ballast-monitoring-');
    const { store } = tmp;
    for (const h of hosts) store.hosts.create({ id: h.id, name: h.name, certSerial: `s-${h.name}`, certNotAfter: NOW + 300 * DAY, enrolledAt: NOW });
    const spec = {
      name: 'prod',
      hosts: [
        { name: 'cp1', roles: ['etcd', 'control-plane'] },
        { name: 'cp2', roles: ['etcd', 'control-plane'] },
        { name: 'cp3', roles: ['etcd', 'control-plane'] },
        { name: 'w1', roles: ['worker'] },
      ],
    };
    const op = (id: string, kind: string, check = false) => store.operations.create({ id, kind, cluster: 'prod', check, input: { spec }, createdBy: 'admin', steps: [] });
    op('op_old', 'cluster.create');
    store.operations.transition('op_old', ['pending'], 'failed', { ended: true });
    op('op_new', 'cluster.create');
    store.operations.transition('op_new', ['pending'], 'paused');
    store.operations.transition('op_new', ['paused'], 'aborted', { ended: true });
    op('op_check', 'cluster.reset', true);
    const item = (name: string, kind: 'ca' | 'cert', days: number) => ({ name, kind, subject: `CN=${name}`, sans: [], certPem: null, keyPem: 'secret', notAfter: NOW + days * DAY });
    store.clusterPki.putAll('prod', [item('etcd-ca', 'ca', 3650), item('etcd-server:cp1', 'cert', 20), { ...item('sa', 'ca', 1), kind: 'keypair' as const, notAfter: null }]);
    const ca = await createCa({ commonName: 'test-ca', validityDays: 5 });
    const registry = new Registry();
    monitoring = installMonitoring({
      registry,
      db: store.db,
      events: store.events,
      hosts: () => hosts.values(),
      ownCertificates: [{ name: 'controller-ca', kind: 'ca', pem: ca.certPem }],
      now: () => NOW,
      onError: (err, metric) => errors.push(`${metric}: ${err instanceof Error ? err.message : String(err)}`),
    });
    return { store, registry };
  }

  it('labels hosts with their cluster, states, heartbeat ages and failing checks; counts etcd members the agents report healthy', async () => {
    const { registry } = await setup([
      live('cp1', 'healthy', NOW - 500),
      live('cp2', 'degraded', NOW - 1000, ['component:etcd']),
      live('cp3', 'unreachable', NOW - 30_000),
      live('lone', 'pending', null),
    ]);
    const text = await registry.metrics();
    expect(samples(text, 'ballast_host_state')).toEqual({
      '{cluster="prod",host="cp1",state="healthy"}': 1,
      '{cluster="prod",host="cp2",state="degraded"}': 1,
      '{cluster="prod",host="cp3",state="unreachable"}': 1,
      '{cluster="",host="lone",state="pending"}': 1,
    });
    expect(samples(text, 'ballast_host_heartbeat_age_seconds')).toEqual({
      '{cluster="prod",host="cp1"}': 0.5,
      '{cluster="prod",host="cp2"}': 1,
      '{cluster="prod",host="cp3"}': 30,
    });
    expect(samples(text, 'ballast_host_check_failing')).toEqual({ '{cluster="prod",host="cp2",check="component:etcd"}': 1 });
    expect(samples(text, 'ballast_etcd_members')).toEqual({ '{cluster="prod"}': 3 });
    expect(samples(text, 'ballast_etcd_members_healthy')).toEqual({ '{cluster="prod"}': 1 });
    expect(samples(text, 'ballast_etcd_member_healthy')).toEqual({
      '{cluster="prod",host="cp1"}': 1,
      '{cluster="prod",host="cp2"}': 0,
      '{cluster="prod",host="cp3"}': 0,
    });
    expect(Object.keys(samples(text, 'ballast_host_cluster_info'))).toHaveLength(4);
  });

  it('shows the newest operation per cluster and kind (check mode left out) and counts by kind and state', async () => {
    const { registry } = await setup([]);
    const text = await registry.metrics();
    expect(samples(text, 'ballast_operation_latest')).toEqual({ '{cluster="prod",kind="cluster.create",operation="op_new",state="aborted"}': 1 });
    expect(samples(text, 'ballast_operations')).toEqual({ '{kind="cluster.create",state="failed"}': 1, '{kind="cluster.create",state="aborted"}': 1 });
  });

  it('exports the expiry of cluster PKI items, agent certificates and the controller CA, never key pairs', async () => {
    const { registry } = await setup([live('cp1', 'healthy', NOW)]);
    const expiry = samples(await registry.metrics(), 'ballast_certificate_expiry_timestamp_seconds');
    const at = (days: number) => (NOW + days * DAY) / 1000;
    expect(expiry['{cluster="prod",host="",cert="etcd-ca",kind="ca"}']).toBe(at(3650));
    expect(expiry['{cluster="prod",host="cp1",cert="etcd-server",kind="cert"}']).toBe(at(20));
    expect(expiry['{cluster="prod",host="cp1",cert="agent-client",kind="cert"}']).toBe(at(300));
    // createCa backdates notBefore, not notAfter: 5 days from the real clock, to the second.
    expect(Math.abs((expiry['{cluster="",host="",cert="controller-ca",kind="ca"}'] ?? 0) - (Date.now() + 5 * DAY) / 1000)).toBeLessThan(120);
    expect(Object.keys(expiry).some((k) => k.includes('"sa"'))).toBe(false);
  });

  it('counts component repairs and failures from agent events, with the host\'s cluster; ignores malformed ones', async () => {
    const { store, registry } = await setup([]);
    const ev = (kind: string, component: unknown, host: string | null = 'cp2') => store.events.append({ host, kind: kind as 'agent.x', message: 'm', data: { component } });
    ev('agent.component.repaired', 'etcd');
    ev('agent.component.repaired', 'etcd');
    ev('agent.component.failed', 'kubelet', 'lone');
    ev('agent.component.repaired', 'Bad Name!');
    ev('agent.component.repaired', 'etcd', null);
    ev('agent.vip.acquired', 'etcd');
    const text = await registry.metrics();
    expect(samples(text, 'ballast_component_repairs_total')).toEqual({ '{cluster="prod",host="cp2",component="etcd"}': 2 });
    expect(samples(text, 'ballast_component_failures_total')).toEqual({ '{cluster="",host="lone",component="kubelet"}': 1 });
  });

  it('leaves a gauge whose store read fails out of the scrape, reports why, and serves the rest', async () => {
    const { store, registry } = await setup([live('cp1', 'healthy', NOW)]);
    store.db.exec('DROP TABLE cluster_pki');
    const text = await registry.metrics();
    expect(samples(text, 'ballast_certificate_expiry_timestamp_seconds')).toEqual({});
    expect(samples(text, 'ballast_host_state')['{cluster="prod",host="cp1",state="healthy"}']).toBe(1);
    expect(errors).toEqual([expect.stringMatching(/^ballast_certificate_expiry_timestamp_seconds: .*cluster_pki/)]);
  });
});
