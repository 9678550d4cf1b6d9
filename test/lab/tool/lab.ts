import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installCommand } from '../../../controller/src/api/install-routes.js';
import { TEST_TRUST_KEY } from '../../support/bundle.js';
import { cachedBuild, ETCD_BINS } from '../../support/kube-bundle.js';
import {
  type ControllerRuntime,
  findDeb,
  packageRuntime,
  REPO_ROOT,
  repoRuntime,
  startController,
  stopController,
} from './controller.js';
import { type RunOptions, type RunResult, run, runStreaming, StopWaiting, sleep, waitUntil } from './exec.js';
import { boot, ensureOverlay, hostRun, poweroff, writeEtcHosts } from './host.js';
import { hostCgroupDirs } from './cgroups.js';
import { teardown } from './teardown.js';
import { ensureDefaultRoute, ensureGateway, ensurePlugged, ensureRoute, ensureSwitch, setPortUp } from './net.js';
import { podSubnet } from './pod-net.js';
import { isAlive, procRef, signal } from './proc.js';
import { ensureRootfs } from './rootfs.js';
import { type HostState, type LabState, labDir, readState, snapshotKeyFile, stateFile, writeState } from './state.js';

/** What `ballastctl hosts -o json` reports per host (the fields the lab reads). */
export interface LabHost {
  name: string;
  id: string;
  state: 'pending' | 'healthy' | 'degraded' | 'unreachable';
  connected: boolean;
  stateSince: string;
  lastHeartbeatAt: string | null;
}

/** Options of Lab.up. */
export interface UpOptions {
  hosts?: number;
  dir?: string;
  /** Where the built packages are (bind-mounted read-only into every host at /mnt/ballast). */
  distDir?: string;
  /** Install the agent package and join every host (default true). */
  join?: boolean;
  /** Run the controller from its package (default when the .deb exists) or from the repo build. */
  controller?: 'package' | 'repo';
  log?: (msg: string) => void;
}

const PREFIX = 'bl';
const CONTROLLER_PORT = 9443;
const AGENT_NAME = (i: number) => `host${i}`;

/**
 * A lab of real (namespaced) hosts: a switch namespace with a bridge, one namespace per host with
 * a systemd-nspawn container booted from a cached Debian rootfs, a controller namespace and a client
 * namespace, all on 198.18.0.0/24. Every resource is written to the state file before it is made.
 */
export class Lab {
  private runtime: ControllerRuntime | null = null;
  /** How the last installAndJoin installed the agent: the one-line installer or dpkg + join. */
  joinMethod: 'install.sh' | 'dpkg' | null = null;

  private constructor(
    readonly state: LabState,
    private readonly log: (msg: string) => void,
  ) {}

  /** Attaches to the lab described by the state file in `dir` (made by another process). */
  static attach(dir = labDir(), log: (msg: string) => void = () => {}): Lab {
    const state = readState(dir);
    if (!state) throw new Error(`failed to find a lab: no ${stateFile(dir)} (run: lab up)`);
    return new Lab(state, log);
  }

  /** Builds the whole lab; on any failure everything already made is torn down again. */
  static async up(options: UpOptions = {}): Promise<Lab> {
    const dir = options.dir ?? labDir();
    const log = options.log ?? (() => {});
    if (readState(dir)) throw new Error(`failed to create the lab: one exists (${stateFile(dir)}); run: lab down`);
    const count = options.hosts ?? 3;
    if (!Number.isInteger(count) || count < 1 || count > 20) throw new Error('failed to create the lab: hosts must be 1..20');
    const distDir = options.distDir ?? join(REPO_ROOT, 'dist');
    const started = Date.now();
    const rootfs = await ensureRootfs(undefined, undefined, log);
    if (rootfs.built) log(`rootfs built in ${(rootfs.buildMs / 1000).toFixed(1)} s`);
    const state: LabState = {
      version: 1,
      dir,
      createdAt: new Date().toISOString(),
      switchNetns: `${PREFIX}-sw`,
      controllerNetns: `${PREFIX}-ctl`,
      clientNetns: `${PREFIX}-client`,
      controllerAddress: '198.18.0.2',
      controllerPort: CONTROLLER_PORT,
      clientAddress: '198.18.0.3',
      baseRootfs: rootfs.path,
      distDir,
      controller: null,
      controllerDataDir: join(dir, 'controller'),
      hosts: [],
      namespaces: [],
    };
    for (let i = 1; i <= count; i++) {
      const name = AGENT_NAME(i);
      const hostDir = join(dir, 'hosts', name);
      state.hosts.push({
        name,
        netns: `${PREFIX}-${name}`,
        switchPort: `${name}-p`,
        address: `198.18.0.${10 + i}`,
        upper: join(hostDir, 'upper'),
        work: join(hostDir, 'work'),
        root: join(hostDir, 'root'),
        mounted: false,
        nspawn: null,
        init: null,
        partitioned: false,
      });
    }
    const lab = new Lab(state, log);
    writeState(state);
    try {
      await lab.createNetwork();
      await lab.startController(options.controller);
      const t0 = Date.now();
      await Promise.all(state.hosts.map((h) => lab.powerOnHost(h)));
      log(`${count} hosts booted to running in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      if (options.join ?? true) await lab.installAndJoin(state.hosts.map((h) => h.name));
      log(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      return lab;
    } catch (err) {
      log(`lab up failed, tearing down: ${err instanceof Error ? err.message : String(err)}`);
      await lab.down();
      throw err;
    }
  }

  private save(): void {
    writeState(this.state);
  }

  host(name: string): HostState {
    const host = this.state.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`failed to find host ${name}: the lab has ${this.state.hosts.map((h) => h.name).join(', ')}`);
    return host;
  }

  get serverUrl(): string {
    return `https://${this.state.controllerAddress}:${this.state.controllerPort}`;
  }

  get adminConf(): string {
    return join(this.state.controllerDataDir, 'admin.conf');
  }

  private async createNetwork(): Promise<void> {
    const s = this.state;
    for (const ns of [s.switchNetns, s.controllerNetns, s.clientNetns, ...s.hosts.map((h) => h.netns)]) {
      if (!s.namespaces.includes(ns)) s.namespaces.push(ns);
    }
    this.save();
    await ensureSwitch(s.switchNetns);
    await ensurePlugged({ switchNetns: s.switchNetns, netns: s.controllerNetns, port: 'ctl-p', address: s.controllerAddress });
    await ensurePlugged({ switchNetns: s.switchNetns, netns: s.clientNetns, port: 'client-p', address: s.clientAddress });
    for (const h of s.hosts) await ensurePlugged({ switchNetns: s.switchNetns, netns: h.netns, port: h.switchPort, address: h.address });
    await ensureGateway(s.switchNetns);
    for (const h of s.hosts) {
      await ensureDefaultRoute(h.netns);
      for (const peer of s.hosts) if (peer !== h) await ensureRoute(h.netns, podSubnet(peer), peer.address);
    }
  }

  private async controllerRuntime(kind?: 'package' | 'repo'): Promise<ControllerRuntime> {
    if (this.runtime) return this.runtime;
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
    const deb = findDeb(this.state.distDir, 'ballast-controller', version);
    const pkgDir = join(this.state.dir, 'controller-package');
    if ((kind ?? (deb ? 'package' : 'repo')) === 'package') {
      if (!deb) throw new Error(`failed to find the controller package in ${this.state.distDir}: run npm run package`);
      this.runtime = existsSync(join(pkgDir, 'opt')) ? await packageRuntime(deb, pkgDir) : await packageRuntime(deb, pkgDir);
    } else {
      this.runtime = repoRuntime();
    }
    return this.runtime;
  }

  /** Starts the controller (again, with the same data dir) and waits until ballastctl gets answers. */
  async startController(kind?: 'package' | 'repo'): Promise<void> {
    if (isAlive(this.state.controller)) return;
    const runtime = await this.controllerRuntime(kind);
    this.log(`starting the controller (${runtime.kind} runtime) at ${this.serverUrl}`);
    mkdirSync(join(this.state.dir, 'logs'), { recursive: true });
    this.state.controller = startController({
      runtime,
      netns: this.state.controllerNetns,
      dataDir: this.state.controllerDataDir,
      address: this.state.controllerAddress,
      port: this.state.controllerPort,
      logFile: join(this.state.dir, 'logs/controller.log'),
      packagesDir: this.state.distDir,
      // The test bundles are signed with the test-only key (test/support/testdata/README.md).
      trustKeys: [TEST_TRUST_KEY],
      snapshotKey: snapshotKeyFile(this.state),
      // Drills (issue 13) run the source-built etcd and kube-apiserver where the builds are cached;
      // a missing one is reported by the drill itself, so a lab without them still starts.
      drillBinDirs: [cachedBuild('etcd', ETCD_BINS), cachedBuild('kube', ['kube-apiserver'])].flatMap((b) => (b === null ? [] : [b.dir])),
    });
    this.save();
    await waitUntil(
      'the controller to answer',
      async () => {
        if (!isAlive(this.state.controller)) throw new StopWaiting(`failed to start the controller: it exited; see ${join(this.state.dir, 'logs/controller.log')}`);
        if (!existsSync(this.adminConf)) return undefined;
        const r = await this.ctl(['hosts', '-o', 'json'], { allowFail: true, timeoutMs: 10_000 });
        return r.code === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  }

  /** SIGKILL of the controller process (a crash: no shutdown code runs); returns once it is gone. */
  async killController(): Promise<void> {
    const ref = this.state.controller;
    if (isAlive(ref)) {
      signal(ref, 'SIGKILL');
      const deadline = Date.now() + 5000;
      while (isAlive(ref) && Date.now() < deadline) await sleep(20);
    }
    this.state.controller = null;
    this.save();
  }

  async stopController(): Promise<void> {
    await stopController(this.state.controller);
    this.state.controller = null;
    this.save();
  }

  private async powerOnHost(host: HostState): Promise<void> {
    await ensureOverlay(host, this.state.baseRootfs);
    writeEtcHosts(host, this.state.hosts);
    host.mounted = true;
    host.cgroups = hostCgroupDirs(host.name);
    this.save();
    try {
      await boot(host, { distDir: this.state.distDir, logDir: join(this.state.dir, 'logs') });
    } finally {
      this.save(); // records nspawn/init even when the boot wait failed, so down stops them
    }
  }

  /** Installs the agent package from /mnt/ballast and joins each host with one shared token. */
  async installAndJoin(names: string[]): Promise<void> {
    const version = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version as string;
    const deb = findDeb(this.state.distDir, 'ballast-agent', version);
    if (!deb) throw new Error(`failed to find the agent package in ${this.state.distDir}: run npm run package`);
    const token = await this.ctlJson<{ token: string; caHash: string }>([
      'token',
      'create',
      '--ttl',
      '1h',
      '--uses',
      String(names.length),
      '-o',
      'json',
    ]);
    // The one-line install (curl | sh from the controller) when the controller serves it; else the
    // package from the bind-mounted dist dir and `ballast-agent join`, as an operator would by hand.
    const oneLiner = await this.servesInstallScript(names[0]!);
    this.joinMethod = oneLiner ? 'install.sh' : 'dpkg';
    const cert = oneLiner ? readFileSync(join(this.state.controllerDataDir, 'server.crt'), 'utf8') : '';
    const t0 = Date.now();
    await Promise.all(
      names.map(async (name) => {
        const host = this.host(name);
        if (oneLiner) {
          // The line `ballastctl token create` should print (installCommand), plus --name.
          const line = `${installCommand({ serverUrl: this.serverUrl, token: token.token, caHash: token.caHash, serverCertPem: cert })} --name ${name}`;
          await hostRun(host, ['sh', '-c', `cd /root && ${line}`], { timeoutMs: 240_000 });
          return;
        }
        await hostRun(host, ['dpkg', '-i', `/mnt/ballast/${deb.split('/').at(-1)}`], { timeoutMs: 180_000 });
        await hostRun(
          host,
          ['ballast-agent', 'join', '--server', this.serverUrl, '--token', token.token, '--ca-hash', token.caHash, '--name', name],
          { timeoutMs: 60_000 },
        );
      }),
    );
    this.log(`installed (${this.joinMethod}) and joined ${names.length} hosts in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    await this.waitForHosts(names, (h) => h.state === 'healthy' && h.connected, 60_000);
  }

  /** Does the controller serve GET /install.sh (asked from a host, over the lab network)? */
  private async servesInstallScript(name: string): Promise<boolean> {
    const r = await hostRun(this.host(name), ['curl', '-k', '-s', '-o', '/dev/null', '-w', '%{http_code}', `${this.serverUrl}/install.sh`], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    return r.stdout.trim() === '200';
  }

  /**
   * Records a process a test started in the lab's namespaces (by pid and start time), so `down`
   * ends it even when the test crashed before stopping it.
   */
  track(what: string, pid: number): void {
    this.state.extras = [...(this.state.extras ?? []), { what, proc: procRef(pid) }];
    this.save();
  }

  /** Runs argv inside a host. */
  exec(name: string, argv: string[], options: RunOptions = {}): Promise<RunResult> {
    return hostRun(this.host(name), argv, options);
  }

  /**
   * Writes each host's journal of `units` to `dir/<host>.journal.log` (precise timestamps), for a
   * failed round or a step whose time must be explained. A host that does not answer is skipped.
   */
  async saveJournals(dir: string, hosts: readonly string[], units: readonly string[] = ['ballast-agent', 'etcd']): Promise<void> {
    mkdirSync(dir, { recursive: true });
    for (const h of hosts) {
      const r = await this.exec(h, ['journalctl', '-q', '-o', 'short-precise', '--no-pager', ...units.flatMap((u) => ['-u', u])], { allowFail: true, timeoutMs: 30_000 });
      writeFileSync(join(dir, `${h}.journal.log`), r.stdout);
    }
  }

  /** Runs ballastctl in the client namespace against the lab controller. */
  async ctl(args: string[], options: RunOptions = {}): Promise<RunResult> {
    const runtime = await this.controllerRuntime();
    return run(['nsenter', `--net=/run/netns/${this.state.clientNetns}`, runtime.node, runtime.ctlMain, '--config', this.adminConf, ...args], {
      timeoutMs: 20_000,
      ...options,
    });
  }

  /** ballastctl with the terminal's stdio and signals forwarded (the lab CLI's `ctl`); resolves with its exit code. */
  async ctlStreaming(args: string[]): Promise<number> {
    const runtime = await this.controllerRuntime();
    // nsenter without --fork execs ballastctl in place: a forwarded signal reaches it directly.
    return runStreaming(['nsenter', `--net=/run/netns/${this.state.clientNetns}`, runtime.node, runtime.ctlMain, '--config', this.adminConf, ...args]);
  }

  async ctlJson<T>(args: string[], options: RunOptions = {}): Promise<T> {
    const r = await this.ctl(args, options);
    return JSON.parse(r.stdout) as T;
  }

  async hosts(): Promise<LabHost[]> {
    return (await this.ctlJson<{ items: LabHost[] }>(['hosts', '-o', 'json'])).items;
  }

  /** Waits until every named host satisfies `pred`; returns the matching summaries. */
  async waitForHosts(names: string[], pred: (h: LabHost) => boolean, timeoutMs: number, intervalMs = 200): Promise<LabHost[]> {
    return waitUntil(
      `${names.join(', ')} to reach the expected state`,
      async () => {
        const items = await this.hosts();
        const chosen = names.map((n) => items.find((h) => h.name === n));
        return chosen.every((h) => h !== undefined && pred(h)) ? (chosen as LabHost[]) : undefined;
      },
      { timeoutMs, intervalMs },
    );
  }

  async partition(name: string): Promise<void> {
    const host = this.host(name);
    await setPortUp(this.state.switchNetns, host.switchPort, false);
    host.partitioned = true;
    this.save();
  }

  async heal(name: string): Promise<void> {
    const host = this.host(name);
    await setPortUp(this.state.switchNetns, host.switchPort, true);
    host.partitioned = false;
    this.save();
  }

  async poweroff(name: string): Promise<void> {
    const host = this.host(name);
    try {
      await poweroff(host);
    } finally {
      this.save();
    }
  }

  async poweron(name: string): Promise<void> {
    await this.powerOnHost(this.host(name));
  }

  /** Tears everything down; safe to call twice, from any process, after any failure. */
  async down(): Promise<void> {
    await teardown(this.state, this.log);
  }
}
