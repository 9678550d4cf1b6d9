import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { figureRecorder, labSkipReason, log, secs } from './support-skip.js';
import { run, sleep, waitUntil } from './tool/exec.js';
import { Lab, type LabHost } from './tool/lab.js';
import { downFromState } from './tool/teardown.js';
import { ensurePackages, repoVersion } from './tool/packages.js';
import { isAlive } from './tool/proc.js';
import { labDir } from './tool/state.js';

// Issue 3's lab tests on real (namespaced) hosts running real systemd. Root only: namespaces,
// mounts and systemd-nspawn. Every wait is bounded; figures are printed and asserted.
const skipReason = labSkipReason('lab tests', ['systemd-nspawn', 'debootstrap', 'ip', 'nsenter', 'dpkg-deb']);

const { figures, figure } = figureRecorder();
/** Agent unit settings the timing assertions derive from (systemd/ballast-agent.service). */
const WATCHDOG_SEC = 6;
const RESTART_SEC = 1;

describe.skipIf(skipReason !== null)('lab: real hosts under systemd', () => {
  let lab: Lab;

  beforeAll(async () => {
    if (await downFromState(labDir(), log)) log('removed a lab left over by an earlier run');
    const t0 = Date.now();
    await ensurePackages(log);
    figure('packages ready', secs(Date.now() - t0));
    const t1 = Date.now();
    lab = await Lab.up({ hosts: 3, log });
    figure('lab up (rootfs cached, 3 hosts booted, installed, joined, healthy)', secs(Date.now() - t1));
  }, 20 * 60_000);

  afterAll(async () => {
    if (lab) await lab.down();
    console.log(`\nLAB FIGURES\n${figures.map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
  }, 120_000);

  async function mainPid(host: string): Promise<number> {
    const r = await lab.exec(host, ['systemctl', 'show', '-p', 'MainPID', '--value', 'ballast-agent']);
    return Number(r.stdout.trim());
  }

  async function unitProps(host: string, props: string[]): Promise<Record<string, string>> {
    const r = await lab.exec(host, ['systemctl', 'show', ...props.flatMap((p) => ['-p', p]), 'ballast-agent']);
    return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  /** Waits for systemd to run a new agent main process that reported READY (Type=notify → active). */
  async function waitRestarted(host: string, oldPid: number, timeoutMs: number): Promise<number> {
    return waitUntil(
      `${host}'s agent to be restarted`,
      async () => {
        const p = await unitProps(host, ['MainPID', 'ActiveState', 'SubState']);
        const pid = Number(p.MainPID);
        return pid !== 0 && pid !== oldPid && p.ActiveState === 'active' && p.SubState === 'running' ? pid : undefined;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  async function waitHealthySince(host: string, sinceMs: number, timeoutMs: number): Promise<LabHost> {
    const [h] = await lab.waitForHosts(
      [host],
      (x) => x.state === 'healthy' && x.connected && x.lastHeartbeatAt !== null && Date.parse(x.lastHeartbeatAt) > sinceMs,
      timeoutMs,
      100,
    );
    return h!;
  }

  it('1. three hosts without Node.js install the .deb, join, and are healthy', async () => {
    figure('agent installed via', lab.joinMethod === 'install.sh' ? 'the one-line install.sh' : 'dpkg -i + ballast-agent join');
    // The controller serves the package: hosts must have joined through the one-line install.
    expect(lab.joinMethod).toBe('install.sh');
    for (const h of lab.state.hosts) {
      const node = await lab.exec(h.name, ['sh', '-c', 'command -v node nodejs || echo none']);
      expect(node.stdout.trim(), `${h.name} must not have Node.js`).toBe('none');
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax
      const status = await lab.exec(h.name, ['dpkg-query', '-W', '-f', '${Status} ${Version}', 'ballast-agent']);
      expect(status.stdout).toBe(`install ok installed ${repoVersion()}`);
      expect((await lab.exec(h.name, ['systemctl', 'is-active', 'ballast-agent'])).stdout.trim()).toBe('active');
      expect((await lab.exec(h.name, ['systemctl', 'is-enabled', 'ballast-agent'])).stdout.trim()).toBe('enabled');
      const key = await lab.exec(h.name, ['stat', '-c', '%a', '/etc/ballast/agent.key']);
      expect(key.stdout.trim()).toBe('600');
    }
    // The installed units on a real systemd 252 host: verify prints nothing at all.
    const verify = await lab.exec('host1', ['systemd-analyze', 'verify', '/lib/systemd/system/ballast-agent.service'], { allowFail: true });
    expect(verify.stdout + verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    const hosts = await lab.hosts();
    expect(hosts.map((h) => h.name).sort()).toEqual(['host1', 'host2', 'host3']);
    expect(hosts.every((h) => h.state === 'healthy' && h.connected)).toBe(true);
    expect(new Set(hosts.map((h) => h.id)).size).toBe(3);
    console.log((await lab.ctl(['hosts'])).stdout);
  });

  it('2. kill -9 of the agent: systemd restarts it and the host is healthy again', async () => {
    const before = await mainPid('host1');
    const id = (await lab.hosts()).find((h) => h.name === 'host1')!.id;
    const t0 = Date.now();
    await lab.exec('host1', ['kill', '-9', String(before)]);
    const after = await waitRestarted('host1', before, 20_000);
    const restartMs = Date.now() - t0;
    // +300 ms: a heartbeat already in flight at the kill must not count as the new agent's.
    const h = await waitHealthySince('host1', t0 + 300, 30_000);
    const healthyMs = Date.now() - t0;
    figure('kill -9 → new agent READY (systemd restart gap)', `${secs(restartMs)} (RestartSec=${RESTART_SEC}s)`);
    figure('kill -9 → heartbeats again, host healthy', secs(healthyMs));
    expect(after).not.toBe(before);
    expect(h.id).toBe(id);
    expect(restartMs).toBeLessThan((RESTART_SEC + 4) * 1000);
    expect(healthyMs).toBeLessThan((RESTART_SEC + 8) * 1000);
  });

  it('3. a wedged agent (SIGSTOP) is killed by the watchdog and restarted', async () => {
    const before = await mainPid('host2');
    const t0 = Date.now();
    const since = new Date(t0 - 1000).toISOString().replace('T', ' ').slice(0, 19);
    await lab.exec('host2', ['kill', '-STOP', String(before)]);
    const after = await waitRestarted('host2', before, (WATCHDOG_SEC + RESTART_SEC + 15) * 1000);
    const gapMs = Date.now() - t0;
    await waitHealthySince('host2', t0, 30_000);
    const journal = await lab.exec('host2', ['journalctl', '-u', 'ballast-agent', '--since', since, '--utc', '--no-pager', '-o', 'cat']);
    figure('SIGSTOP → watchdog restart → new agent READY', `${secs(gapMs)} (WatchdogSec=${WATCHDOG_SEC}s)`);
    expect(after).not.toBe(before);
    expect(journal.stdout).toMatch(/[Ww]atchdog timeout/);
    // The stopped loop last pinged at most WatchdogSec/2 before the stop.
    expect(gapMs).toBeLessThan((WATCHDOG_SEC + RESTART_SEC + 5) * 1000);
  });

  it('4. a powered-off host is unreachable within 4 s, and comes back healthy when powered on', async () => {
    const id = (await lab.hosts()).find((h) => h.name === 'host3')!.id;
    const t0 = Date.now();
    const off = lab.poweroff('host3');
    const [h] = await lab.waitForHosts(['host3'], (x) => x.state === 'unreachable', 15_000, 100);
    await off;
    const detectMs = Date.parse(h!.stateSince) - t0;
    figure('poweroff → unreachable (controller stateSince − poweroff issued)', secs(detectMs));
    expect(detectMs).toBeLessThanOrEqual(4000);
    const t1 = Date.now();
    await lab.poweron('host3');
    const bootMs = Date.now() - t1;
    const back = await waitHealthySince('host3', t1, 60_000);
    figure('poweron → container running', secs(bootMs));
    figure('poweron → host healthy (agent enabled at boot)', secs(Date.now() - t1));
    expect(back.id).toBe(id);
  });

  it('5. a partitioned host goes unreachable, and after healing is healthy with the same identity', async () => {
    const before = await lab.hosts();
    const t0 = Date.now();
    await lab.partition('host2');
    const [h] = await lab.waitForHosts(['host2'], (x) => x.state === 'unreachable', 15_000, 100);
    figure('partition → unreachable', secs(Date.parse(h!.stateSince) - t0));
    const t1 = Date.now();
    await lab.heal('host2');
    await waitHealthySince('host2', t1, 60_000);
    figure('heal → healthy (agent reconnect with backoff)', secs(Date.now() - t1));
    const after = await lab.hosts();
    expect(after.length).toBe(3);
    expect(new Set(after.map((x) => x.name)).size).toBe(3);
    expect(after.find((x) => x.name === 'host2')!.id).toBe(before.find((x) => x.name === 'host2')!.id);
  });

  it('6. after a controller restart every agent reconnects, spread over time by jitter', async () => {
    await lab.stopController();
    await sleep(2000); // agents notice and back off
    const t0 = Date.now();
    await lab.startController();
    await lab.waitForHosts(
      ['host1', 'host2', 'host3'],
      (x) => x.state === 'healthy' && x.connected && x.lastHeartbeatAt !== null && Date.parse(x.lastHeartbeatAt) > t0,
      90_000,
      250,
    );
    const events = await lab.ctlJson<{ items: Array<{ ts: string; host: string | null; kind: string }> }>(['events', '--limit', '1000', '-o', 'json']);
    const firstConnect = new Map<string, number>();
    for (const e of events.items) {
      const ts = Date.parse(e.ts);
      if (e.kind === 'connected' && e.host && ts >= t0 && !firstConnect.has(e.host)) firstConnect.set(e.host, ts);
    }
    const offsets = [...firstConnect.entries()].map(([host, ts]) => [host, ts - t0] as const).sort((a, b) => a[1] - b[1]);
    figure('controller restart → reconnect offsets', offsets.map(([host, ms]) => `${host} +${secs(ms)}`).join(', '));
    figure('controller restart → reconnect spread (max − min)', secs(offsets.at(-1)![1] - offsets[0]![1]));
    expect(offsets.length).toBe(3);
    expect((await lab.hosts()).length).toBe(3);
  });

  it('7. upgrading the agent package in place keeps the identity, no re-join', async () => {
    const host = lab.host('host1');
    const before = (await lab.hosts()).find((h) => h.name === 'host1')!;
    const certBefore = (await lab.exec('host1', ['sha256sum', '/etc/ballast/agent.crt'])).stdout;
    const pidBefore = await mainPid('host1');
    // A newer version of the same package: repacked with a higher version number.
    const work = mkdtempSync(join(tmpdir(), 'upgrade-'));
    try {
      const newVersion = `${repoVersion()}+lab1`;
      await run(['dpkg-deb', '-R', join(lab.state.distDir, `ballast-agent_${repoVersion()}_amd64.deb`), join(work, 'pkg')], { timeoutMs: 120_000 });
      const controlFile = join(work, 'pkg/DEBIAN/control');
      writeFileSync(controlFile, readFileSync(controlFile, 'utf8').replace(/^Version: .*$/m, `Version: ${newVersion}`));
      const deb = join(work, 'upgrade.deb');
      await run(['dpkg-deb', '--root-owner-group', '-Zgzip', '-z1', '-b', join(work, 'pkg'), deb], { timeoutMs: 180_000 });
      // Into the host's own disk (its overlay), as an operator's scp would.
      copyFileSync(deb, join(host.root, 'var/tmp/ballast-agent-upgrade.deb'));
      const t0 = Date.now();
      await lab.exec('host1', ['dpkg', '-i', '/var/tmp/ballast-agent-upgrade.deb'], { timeoutMs: 180_000 });
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own field syntax
      const version = await lab.exec('host1', ['dpkg-query', '-W', '-f', '${Version}', 'ballast-agent']);
      expect(version.stdout).toBe(newVersion);
      await waitRestarted('host1', pidBefore, 30_000);
      const after = await waitHealthySince('host1', t0, 30_000);
      figure('upgrade (dpkg -i) → agent restarted and healthy', secs(Date.now() - t0));
      expect(after.id).toBe(before.id);
      expect((await lab.exec('host1', ['sha256sum', '/etc/ballast/agent.crt'])).stdout).toBe(certBefore);
      expect((await lab.hosts()).length).toBe(3);
    } finally {
      rmSync(work, { recursive: true, force: true });
      await lab.exec('host1', ['rm', '-f', '/var/tmp/ballast-agent-upgrade.deb'], { allowFail: true });
    }
  });

  it('8. remove stops the agent; purge removes its identity and state', async () => {
    await lab.exec('host3', ['dpkg', '--remove', 'ballast-agent'], { timeoutMs: 60_000 });
    const active = await lab.exec('host3', ['systemctl', 'is-active', 'ballast-agent'], { allowFail: true });
    expect(active.stdout.trim()).not.toBe('active');
    expect((await lab.exec('host3', ['test', '-f', '/etc/ballast/agent.yaml'], { allowFail: true })).code).toBe(0);
    await lab.exec('host3', ['dpkg', '--purge', 'ballast-agent'], { timeoutMs: 60_000 });
    for (const p of ['/etc/ballast', '/var/lib/ballast', '/opt/ballast/agent']) {
      expect((await lab.exec('host3', ['test', '-e', p], { allowFail: true })).code, p).toBe(1);
    }
  });

  it('9. the controller package runs under its hardened unit as user ballast', async () => {
    // host3 was purged in test 8: install the controller package there, as on a management host.
    const host = lab.host('host3');
    copyFileSync(join(lab.state.distDir, `ballast-controller_${repoVersion()}_amd64.deb`), join(host.root, 'var/tmp/ctl.deb'));
    await lab.exec('host3', ['dpkg', '-i', '/var/tmp/ctl.deb'], { timeoutMs: 240_000 });
    await lab.exec('host3', ['rm', '-f', '/var/tmp/ctl.deb']);
    expect((await lab.exec('host3', ['systemctl', 'is-active', 'ballast-controller'], { allowFail: true })).stdout.trim()).not.toBe('active');
    const verify = await lab.exec('host3', ['systemd-analyze', 'verify', '/lib/systemd/system/ballast-controller.service'], { allowFail: true });
    expect(verify.stdout + verify.stderr).toBe('');
    // Bounded start: a controller that never sends READY=1 fails here in 20 s instead of the default 90 s.
    await lab.exec('host3', ['mkdir', '-p', '/etc/systemd/system/ballast-controller.service.d']);
    writeFileSync(join(host.root, 'etc/systemd/system/ballast-controller.service.d/lab.conf'), '[Service]\nTimeoutStartSec=20s\n');
    await lab.exec('host3', ['systemctl', 'daemon-reload']);
    const t0 = Date.now();
    const start = await lab.exec('host3', ['systemctl', 'start', 'ballast-controller'], { allowFail: true, timeoutMs: 40_000 });
    if (start.code !== 0) {
      // Seen once in CI (2026-12-07, not reproduced in two runs after): say why the next time.
      const status = await lab.exec('host3', ['systemctl', 'status', '--no-pager', '-l', 'ballast-controller', 'network-online.target'], { allowFail: true });
      const journal = await lab.exec('host3', ['journalctl', '--no-pager', '-n', '60', '-u', 'ballast-controller'], { allowFail: true });
      log(`controller unit start failed:\n${status.stdout}\n${journal.stdout}`);
    }
    expect(start.code, `controller unit did not become active (no READY=1?): ${start.stderr}`).toBe(0);
    figure('controller unit (Type=notify) start → READY', secs(Date.now() - t0));
    const healthz = await waitUntil(
      'the packaged controller to answer /healthz',
      async () => {
        const r = await lab.exec('host3', ['curl', '-ks', 'https://127.0.0.1:9443/healthz'], { allowFail: true });
        return r.code === 0 && r.stdout.includes('ok') ? r.stdout : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(healthz).toContain('ok');
    const user = await lab.exec('host3', ['ps', '-o', 'user=', '-p', (await lab.exec('host3', ['systemctl', 'show', '-p', 'MainPID', '--value', 'ballast-controller'])).stdout.trim()]);
    expect(user.stdout.trim()).toBe('ballast');
    const dir = await lab.exec('host3', ['stat', '-c', '%U %a', '/var/lib/ballast-controller', '/var/lib/ballast-controller/admin.conf']);
    expect(dir.stdout.trim().split('\n')).toEqual(['ballast 700', 'ballast 600']);
    const ctl = await lab.exec('host3', ['ballastctl', '--config', '/var/lib/ballast-controller/admin.conf', 'hosts', '-o', 'json']);
    expect(JSON.parse(ctl.stdout)).toEqual({ items: [] });
    const security = await lab.exec('host3', ['systemd-analyze', 'security', '--no-pager', 'ballast-controller'], { allowFail: true });
    const score = /Overall exposure level for \S+: (.*)$/m.exec(security.stdout)?.[1] ?? '?';
    figure('controller unit: systemd-analyze security exposure', score);
    await lab.exec('host3', ['dpkg', '--purge', 'ballast-controller'], { timeoutMs: 60_000 });
    expect((await lab.exec('host3', ['test', '-e', '/var/lib/ballast-controller'], { allowFail: true })).code).toBe(1);
    expect((await lab.exec('host3', ['getent', 'passwd', 'ballast'], { allowFail: true })).code).toBe(2);
  });

  it('10. down removes every namespace, mount and process it made', async () => {
    const state = lab.state;
    const procs = [state.controller, ...state.hosts.flatMap((h) => [h.nspawn, h.init])];
    await lab.down();
    await lab.down(); // idempotent
    expect(procs.some((p) => isAlive(p))).toBe(false);
    const netns = existsSync('/run/netns') ? readdirSync('/run/netns') : [];
    expect(netns.filter((n) => state.namespaces.includes(n))).toEqual([]);
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts.includes(state.dir)).toBe(false);
    for (const h of state.hosts) expect(existsSync(`/run/systemd/nspawn/propagate/${h.name}`)).toBe(false);
    expect(existsSync(state.dir)).toBe(false);
  });
});
