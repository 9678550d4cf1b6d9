import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BallastEvent } from '../../shared/src/api.js';
import type { ArtifactImportResponse } from '../../shared/src/artifacts-api.js';
import type { RunDocument } from '../../shared/src/runs-api.js';
import { type DebianTestBundle, debianTestBundle } from '../support/bundle.js';
import { type EtcdTls, etcdTls, explain, hostOf, writeVarsFile } from './support-roles.js';
import { figureRecorder, labSkipReason, log, secs } from './support-skip.js';
import { waitUntil } from './tool/exec.js';
import { Lab } from './tool/lab.js';
import { downFromState } from './tool/teardown.js';
import { ensurePackages } from './tool/packages.js';
import { labDir } from './tool/state.js';

// Issue 4's lab tests: the containerd and etcd roles applied by the real agent on real systemd
// hosts (systemd-nspawn, LAB.md), from the offline test bundle of Debian's binaries. host1 gets the
// real installs; host2 stays fresh for check mode and the corrupted artifact. Root only. Every wait
// is bounded; figures are printed (FIGURE lines) and the PLAY RECAPs are echoed for the closing note.
//
// os-prep is applied by the bootstrap lab test (bootstrap.test.ts) on every host: the lab pre-sets
// IPv4 forwarding in each host's netns (nspawn keeps /proc/sys read-only) and the kernel has overlay
// and br_netfilter built in, so its tasks converge without loading modules or writing /proc/sys.
const skipReason = labSkipReason('role lab tests');

const { figures, figure } = figureRecorder();
const recaps: string[] = [];
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** What the containerd role installs with its defaults (controller/src/roles/containerd.ts). */
const CONTAINERD_PATHS = [
  '/usr/local/bin/containerd',
  '/usr/local/bin/containerd-shim-runc-v2',
  '/usr/local/bin/ctr',
  '/usr/local/sbin/runc',
  '/etc/containerd',
  '/etc/systemd/system/containerd.service',
  '/etc/ballast/components.d/containerd.json',
];
/** What the etcd role installs with its defaults (controller/src/roles/etcd.ts). */
const ETCD_PATHS = [
  '/usr/local/bin/etcd',
  '/usr/local/bin/etcdctl',
  '/var/lib/etcd',
  '/etc/etcd',
  '/etc/systemd/system/etcd.service',
  '/etc/ballast/components.d/etcd.json',
];
/** The agent's artifact work dir (agent/src/tasks/modules/artifact.ts ARTIFACT_WORK_DIR). */
const ARTIFACT_WORK_DIR = '/var/lib/ballast/artifacts';

/**
 * The bundle carries no CNI plugins (Debian has no upstream-layout package for them) and these hosts
 * run no kubelet: CNI is off and so is the CRI plugin, which would only complain about both.
 */
const CONTAINERD_VARS = { cni: { enabled: false }, disabledPlugins: ['io.containerd.grpc.v1.cri'] };
/** The component supervisor probes every 10 s (agent DEFAULT_REPAIR_POLICY): a repair is due within one interval. */
const REPAIR_BOUND_MS = 60_000;

describe.skipIf(skipReason !== null)('lab: containerd and etcd roles on real systemd hosts', () => {
  let lab: Lab;
  let bundle: DebianTestBundle;
  let tls: EtcdTls;
  let work: string;
  let containerdVars: string;
  let etcdVars: string;

  beforeAll(async () => {
    if (await downFromState(labDir(), log)) log('removed a lab left over by an earlier run');
    work = mkdtempSync(join(tmpdir(), 'ballast-lab-roles-'));
    const t0 = Date.now();
    await ensurePackages(log);
    bundle = await debianTestBundle({ log });
    figure('packages and test bundle ready', secs(Date.now() - t0));
    const t1 = Date.now();
    lab = await Lab.up({ hosts: 2, log });
    figure('lab up (2 hosts booted, agent installed, joined, healthy)', secs(Date.now() - t1));
    // The etcd CA and member pairs are issued here, as the bootstrap operation will from the controller.
    tls = await etcdTls({ name: 'host1', address: lab.host('host1').address });
    containerdVars = writeVarsFile(join(work, 'containerd.yaml'), CONTAINERD_VARS);
    etcdVars = writeVarsFile(join(work, 'etcd.yaml'), { tls: tls.vars });
  }, 20 * 60_000);

  afterAll(async () => {
    try {
      if (lab) await lab.down();
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
      console.log(`\nROLE LAB FIGURES\n${figures.map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
      if (recaps.length > 0) console.log(`\nROLE LAB RECAPS\n${recaps.join('\n')}`);
    }
  }, 120_000);

  /** The paths of `paths` that exist on `host`. */
  async function existing(host: string, paths: string[]): Promise<string[]> {
    const r = await lab.exec(host, ['sh', '-c', 'for p in "$@"; do if [ -e "$p" ]; then echo "$p"; fi; done', 'sh', ...paths]);
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  /**
   * `ballastctl apply` in text mode (live progress and PLAY RECAP, as an operator sees it), then the
   * run document of that run (`ballastctl run ID -o json`).
   */
  async function applyText(role: string, host: string, varsFile: string): Promise<{ doc: RunDocument; ms: number }> {
    const t0 = Date.now();
    const r = await lab.ctl(['apply', role, '--hosts', host, '--vars', varsFile], { timeoutMs: 300_000, allowFail: true });
    const ms = Date.now() - t0;
    console.log(`$ ballastctl apply ${role} --hosts ${host} --vars ${role}.yaml\n${r.stdout}${r.stderr}`);
    const id = /^RUN (run-[0-9a-f]{12}):/m.exec(r.stdout)?.[1];
    if (id === undefined) throw new Error(`ballastctl apply ${role} printed no run id (exit ${r.code}): ${r.stderr.trim()}`);
    const recap = r.stdout.slice(r.stdout.indexOf('PLAY RECAP'));
    recaps.push(`$ ballastctl apply ${role} --hosts ${host}  (${secs(ms)})\n${recap.trimEnd()}\n`);
    const doc = await lab.ctlJson<RunDocument>(['run', id, '-o', 'json']);
    expect(r.code, explain(doc)).toBe(0);
    return { doc, ms };
  }

  /** `ballastctl apply ... -o json` (the run document); `allowFail` for runs expected to fail. */
  async function applyJson(role: string, host: string, varsFile: string, extra: string[] = []): Promise<{ doc: RunDocument; code: number | null }> {
    const r = await lab.ctl(['apply', role, '--hosts', host, '--vars', varsFile, ...extra, '-o', 'json'], { timeoutMs: 300_000, allowFail: true });
    if (r.stdout.trim() === '') throw new Error(`ballastctl apply ${role} -o json printed nothing (exit ${r.code}): ${r.stderr.trim()}`);
    return { doc: JSON.parse(r.stdout) as RunDocument, code: r.code };
  }

  async function events(host: string): Promise<BallastEvent[]> {
    return (await lab.ctlJson<{ items: BallastEvent[] }>(['events', '--host', host, '--limit', '1000', '-o', 'json'])).items;
  }

  it('1. imports the Debian test bundle into the controller mirror', async () => {
    const t0 = Date.now();
    const res = await lab.ctlJson<ArtifactImportResponse>(['artifacts', 'import', bundle.path, '-o', 'json'], { timeoutMs: 300_000 });
    figure('artifacts import (Debian test bundle)', `${secs(Date.now() - t0)} for ${res.items.length} artifacts`);
    expect(res.items.map((i) => [i.artifact.name, i.artifact.version, i.artifact.sha256, i.status]).sort()).toEqual(
      bundle.manifest.map((m) => [m.name, m.version, m.sha256, 'added']).sort(),
    );
  });

  it('2. --check on a fresh host lists the changes and leaves the host untouched', async () => {
    const paths = [...CONTAINERD_PATHS, ...ETCD_PATHS, ARTIFACT_WORK_DIR];
    expect(await existing('host2', paths), 'host2 must start fresh').toEqual([]);
    // Anything the run writes outside the agent's own bookkeeping would be newer than this marker.
    await lab.exec('host2', ['touch', '/run/ballast-lab-check-marker']);
    const t0 = Date.now();
    const { doc, code } = await applyJson('containerd', 'host2', containerdVars, ['--check', '--diff']);
    const { doc: etcdDoc } = await applyJson('etcd', 'host2', etcdVars, ['--check']);
    figure('apply containerd --check on a fresh host (+ etcd --check)', secs(Date.now() - t0));
    expect(code, explain(doc)).toBe(0);
    expect(doc.check).toBe(true);
    expect(doc.status, explain(doc)).toBe('succeeded');
    const h = hostOf(doc, 'host2');
    const changed = h.results.filter((r) => r.status === 'changed').map((r) => r.name);
    console.log(`containerd --check on host2 would change:\n  ${changed.join('\n  ')}\nrecap ${JSON.stringify(h.recap)}`);
    expect(changed).toEqual(
      expect.arrayContaining([
        'Install containerd binaries',
        'Install runc',
        'Write containerd config.toml',
        'Install and start containerd.service',
        'Register component containerd',
      ]),
    );
    expect(h.recap.failed).toBe(0);
    expect(h.recap.changed).toBe(changed.length);
    // The diff shows what would be written, without writing it.
    const config = h.results.find((r) => r.name === 'Write containerd config.toml');
    expect(config?.diff).toContain('SystemdCgroup = true');
    expect(config?.message).toMatch(/^would /);
    expect(etcdDoc.status, explain(etcdDoc)).toBe('succeeded');
    expect(hostOf(etcdDoc, 'host2').results.filter((r) => r.status === 'changed').map((r) => r.name)).toEqual(
      expect.arrayContaining(['Install etcd and etcdctl', 'Create data directory /var/lib/etcd', 'Install etcd.service', 'Start etcd.service']),
    );

    expect(await existing('host2', paths), 'check mode must not create anything').toEqual([]);
    const units = await lab.exec('host2', ['systemctl', 'list-unit-files', '--no-legend', 'containerd.service', 'etcd.service'], { allowFail: true });
    expect(units.stdout.trim()).toBe('');
    // Nothing at all changed under /usr, /etc, /opt or /var/lib — except the agent's own state and
    // systemd's bookkeeping, which are not the role's doing: the agent records its last controller
    // contact in its data dir every 10 s for the self-fence (agent/src/self-fence.ts), run or no run.
    const touched = await lab.exec('host2', [
      'find', '/usr', '/etc', '/opt', '/var/lib', '-xdev', '-newer', '/run/ballast-lab-check-marker',
      '-not', '-path', '/var/lib/ballast', '-not', '-path', '/var/lib/ballast/*',
      '-not', '-path', '/etc/ballast', '-not', '-path', '/etc/ballast/last-contact',
      '-not', '-path', '/var/lib/systemd', '-not', '-path', '/var/lib/systemd/*',
    ]);
    expect(touched.stdout.trim(), 'files written by a check run').toBe('');
  });

  it('3. apply containerd on a fresh host: the unit is active and ctr version answers', async () => {
    const { doc, ms } = await applyText('containerd', 'host1', containerdVars);
    figure('apply containerd on a fresh host', `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
    expect(doc.status, explain(doc)).toBe('succeeded');
    const h = hostOf(doc, 'host1');
    expect(h.recap.failed).toBe(0);
    expect(h.recap.changed).toBeGreaterThan(0);
    expect(h.results.find((r) => r.name === 'restart containerd')?.phase).toBe('handler');
    expect(await existing('host1', CONTAINERD_PATHS)).toEqual(CONTAINERD_PATHS);
    expect((await lab.exec('host1', ['systemctl', 'is-active', 'containerd'])).stdout.trim()).toBe('active');
    expect((await lab.exec('host1', ['systemctl', 'is-enabled', 'containerd'])).stdout.trim()).toBe('enabled');
    const version = await lab.exec('host1', ['ctr', 'version']);
    const ctrd = bundle.manifest.find((m) => m.name === 'containerd')!;
    expect(version.stdout).toMatch(new RegExp(`Server:\\s*\\n\\s*Version:\\s*${ctrd.version.replace(/\./g, '\\.')}`));
    console.log(`ctr version on host1:\n${version.stdout.trim()}`);
    const config = await lab.exec('host1', ['cat', '/etc/containerd/config.toml']);
    expect(config.stdout).toContain('SystemdCgroup = true');
    expect(config.stdout).toContain('Managed by Ballast');
    const runc = await lab.exec('host1', ['/usr/local/sbin/runc', '--version']);
    expect(runc.stdout).toContain('runc version');
  });

  it('4. apply etcd (single member) on the host: active, /health ok with mTLS', async () => {
    const { doc, ms } = await applyText('etcd', 'host1', etcdVars);
    figure('apply etcd (single member) on a fresh host', `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
    expect(doc.status, explain(doc)).toBe('succeeded');
    expect(hostOf(doc, 'host1').recap.failed).toBe(0);
    expect((await lab.exec('host1', ['systemctl', 'is-active', 'etcd'])).stdout.trim()).toBe('active');
    const mode = await lab.exec('host1', ['stat', '-c', '%a', '/var/lib/etcd', '/etc/etcd/pki/server.key']);
    expect(mode.stdout.trim().split('\n')).toEqual(['700', '600']);
    const pki = '/etc/etcd/pki';
    const tlsArgs = ['--cacert', `${pki}/ca.crt`, '--cert', `${pki}/healthcheck-client.crt`, '--key', `${pki}/healthcheck-client.key`];
    for (const address of [lab.host('host1').address, '127.0.0.1']) {
      const health = await lab.exec('host1', ['curl', '-sS', '--max-time', '5', ...tlsArgs, `https://${address}:2379/health`]);
      expect(JSON.parse(health.stdout), `/health on ${address}`).toEqual({ health: 'true' });
    }
    // Without a client certificate etcd refuses (client-cert-auth is on).
    const anonymous = await lab.exec('host1', ['curl', '-sS', '--max-time', '5', '--cacert', `${pki}/ca.crt`, 'https://127.0.0.1:2379/health'], {
      allowFail: true,
    });
    expect(anonymous.stdout).not.toContain('"health":"true"');
    const ctl = ['etcdctl', '--endpoints', `https://${lab.host('host1').address}:2379`, ...tlsArgs];
    await lab.exec('host1', [...ctl, 'put', 'ballast-lab', 'hello']);
    expect((await lab.exec('host1', [...ctl, 'get', '--print-value-only', 'ballast-lab'])).stdout.trim()).toBe('hello');
  });

  it('5. a second apply of both roles changes nothing', async () => {
    for (const [role, vars] of [
      ['containerd', containerdVars],
      ['etcd', etcdVars],
    ] as const) {
      const { doc, ms } = await applyText(role, 'host1', vars);
      figure(`second apply ${role} (converged host)`, `${secs(ms)} (recap ${JSON.stringify(doc.recap)})`);
      expect(doc.status, explain(doc)).toBe('succeeded');
      const h = hostOf(doc, 'host1');
      expect(h.recap.changed, `changed tasks: ${h.results.filter((r) => r.status === 'changed').map((r) => `${r.name}: ${r.message}`).join('; ')}`).toBe(0);
      expect(h.recap.failed).toBe(0);
      expect(h.recap.ok).toBe(h.plan.filter((p) => p.phase === 'task').length);
      // No change notified the handler, so it did not run.
      expect(h.results.filter((r) => r.phase === 'handler')).toEqual([]);
    }
    expect((await lab.exec('host1', ['systemctl', 'is-active', 'containerd', 'etcd'])).stdout.trim().split('\n')).toEqual(['active', 'active']);
  });

  it('6. containerd stopped by hand: the agent restarts it and reports the repair', async () => {
    const before = Math.max(0, ...(await events('host1')).map((e) => e.id));
    const t0 = Date.now();
    await lab.exec('host1', ['systemctl', 'stop', 'containerd']);
    expect((await lab.exec('host1', ['systemctl', 'is-active', 'containerd'], { allowFail: true })).stdout.trim()).not.toBe('active');
    // Restart=always does not apply to an explicit stop: only the agent's supervisor brings it back.
    await waitUntil(
      'containerd to be active again',
      async () => ((await lab.exec('host1', ['systemctl', 'is-active', 'containerd'], { allowFail: true })).stdout.trim() === 'active' ? true : undefined),
      { timeoutMs: REPAIR_BOUND_MS, intervalMs: 250 },
    );
    const activeMs = Date.now() - t0;
    const repaired = await waitUntil(
      'an agent.component.repaired event for containerd',
      async () => (await events('host1')).find((e) => e.id > before && e.kind === 'agent.component.repaired' && e.data.component === 'containerd'),
      { timeoutMs: Math.max(1000, REPAIR_BOUND_MS - (Date.now() - t0)), intervalMs: 500 },
    );
    const reportedMs = Date.parse(repaired.ts) - t0;
    figure('systemctl stop containerd → active again (agent restart)', secs(activeMs));
    figure('systemctl stop containerd → agent.component.repaired recorded', secs(reportedMs));
    expect(activeMs).toBeLessThanOrEqual(REPAIR_BOUND_MS);
    expect(reportedMs).toBeLessThanOrEqual(REPAIR_BOUND_MS);
    const all = (await events('host1')).filter((e) => e.id > before && e.kind.startsWith('agent.component.'));
    console.log(`agent events after the stop:\n${all.map((e) => `  ${e.ts} ${e.kind}: ${e.message}`).join('\n')}`);
    // The restart itself is reported too, before the repair.
    const failed = all.find((e) => e.kind === 'agent.component.failed' && e.data.component === 'containerd');
    expect(failed, 'agent.component.failed event').toBeDefined();
    expect(failed!.data.restarted, 'the agent itself restarted the unit').toBe(true);
    expect(failed!.id).toBeLessThan(repaired.id);
    expect(repaired.message).toContain('containerd');
    expect((await lab.exec('host1', ['ctr', 'version'])).code).toBe(0);
  });

  it('7. a corrupted artifact in the mirror fails closed: nothing installed, no temp file left; repaired, it applies', async () => {
    const spec = bundle.manifest.find((m) => m.name === 'containerd')!;
    const file = join(lab.state.controllerDataDir, 'artifacts', spec.name, spec.version, spec.arch, spec.file);
    const original = readFileSync(file);
    expect(sha256(original)).toBe(spec.sha256);
    // Same size (the controller checks the size before serving), different bytes.
    const corrupted = Buffer.from(original);
    const mid = Math.floor(corrupted.length / 2);
    for (let i = mid; i < mid + 64; i++) corrupted[i] = (corrupted[i] ?? 0) ^ 0xff;
    const bad = sha256(corrupted);
    writeFileSync(file, corrupted);
    try {
      const t0 = Date.now();
      const { doc, code } = await applyJson('containerd', 'host2', containerdVars);
      figure('apply with a corrupted artifact → failed', secs(Date.now() - t0));
      expect(code).toBe(1);
      expect(doc.status).toBe('failed');
      const h = hostOf(doc, 'host2');
      expect(h.status).toBe('failed');
      const task = h.results.find((r) => r.name === 'Install containerd binaries');
      expect(task?.status, explain(doc)).toBe('failed');
      expect(task?.error?.code).toBe('BALLAST_ERR_CHECKSUM_MISMATCH');
      expect(task?.error?.message).toContain(`${spec.name} ${spec.version}`);
      expect(task?.error?.message).toContain(`expected sha256 ${spec.sha256}, got ${bad}`);
      console.log(`corrupted artifact on host2: ${task?.error?.code}: ${task?.error?.message}`);
      // Ansible semantics: the host stops at the failed task; nothing after it runs, no handler.
      expect(h.recap).toMatchObject({ changed: 0, failed: 1 });
      expect(h.results.filter((r) => r.status !== 'failed' && r.status !== 'skipped')).toEqual([]);
      expect(await existing('host2', CONTAINERD_PATHS)).toEqual([]);
      const leftovers = await lab.exec('host2', ['find', ARTIFACT_WORK_DIR, '/usr/local/bin', '/usr/local/sbin', '-mindepth', '1', '-name', '.*']);
      expect(leftovers.stdout.trim(), 'temp files left behind').toBe('');
    } finally {
      writeFileSync(file, original);
    }
    // Failing closed left nothing half-done: with the mirror repaired, the same apply converges.
    const t1 = Date.now();
    const { doc, code } = await applyJson('containerd', 'host2', containerdVars);
    figure('apply after the mirror is repaired → ok', `${secs(Date.now() - t1)} (recap ${JSON.stringify(doc.recap)})`);
    expect(code, explain(doc)).toBe(0);
    expect(hostOf(doc, 'host2').recap.failed).toBe(0);
    expect((await lab.exec('host2', ['systemctl', 'is-active', 'containerd'])).stdout.trim()).toBe('active');
  });
});
