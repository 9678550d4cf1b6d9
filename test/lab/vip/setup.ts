/**
 * The VIP lab: three real systemd hosts (test/lab/tool), a real 3-member etcd over mTLS (the etcd
 * role applied to all three at once with one static initialCluster) and the VIP role on all three,
 * with etcd's own /health (mTLS, on 127.0.0.1) as the local health check. The client probes
 * https://VIP:2379/health, i.e. the service behind the VIP is etcd itself.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { RunDocument } from '../../../shared/src/runs-api.js';
import { debianTestBundle } from '../../support/bundle.js';
import { run, waitUntil } from '../tool/exec.js';
import { Lab } from '../tool/lab.js';
import { ensurePackages } from '../tool/packages.js';
import { isAlive } from '../tool/proc.js';
import { type ClusterTls, clusterTls } from './pki.js';
import { startTracers, type Tracers } from './tracers.js';

/** The VIP: inside the lab's 198.18.0.0/24, outside every host, controller and client address. */
export const VIP = '198.18.0.250';
export const VIP_NAME = 'cp';
export const ETCD_PORT = 2379;
export const ETCD_PKI = '/etc/etcd/pki';
/** etcdctl flags for a host's health-check client pair (files the etcd role writes). */
export const ETCD_TLS_ARGS = ['--cacert', `${ETCD_PKI}/ca.crt`, '--cert', `${ETCD_PKI}/healthcheck-client.crt`, '--key', `${ETCD_PKI}/healthcheck-client.key`];

/** Which VIP keeper is running: Ballast's agents or Debian's keepalived. */
export type VipSystem = 'ballast' | 'keepalived';

/** One etcd member as `etcdctl endpoint status` reports it. */
export interface EtcdMember {
  host: string;
  /** Member ID in hex, as etcdctl prints it and move-leader takes it. */
  id: string;
  leader: boolean;
}

/** Options of {@link VipLab.create}. */
export interface VipLabOptions {
  log: (msg: string) => void;
  /** Seconds the tracers may run at most (a bound; they are stopped explicitly before). */
  maxSeconds?: number;
}

export class VipLab {
  /** Which keeper is running now; scenarios and steady-state checks depend on it. */
  system: VipSystem = 'ballast';

  private constructor(
    readonly lab: Lab,
    readonly workDir: string,
    readonly tls: ClusterTls,
    readonly tracers: Tracers,
    /** The vip role's vars as applied (scenarios re-apply them with changes). */
    readonly vipVars: Record<string, unknown>,
    readonly log: (msg: string) => void,
  ) {}

  get hosts(): string[] {
    return this.lab.state.hosts.map((h) => h.name);
  }

  /**
   * Brings the whole lab up (packages, lab, bundle, etcd, VIP, tracers). On failure everything made
   * so far is torn down again. Timings are reported through `figure`.
   */
  static async create(options: VipLabOptions, figure: (name: string, ms: number) => void = () => {}): Promise<VipLab> {
    const { log } = options;
    const workDir = mkdtempSync(join(tmpdir(), 'ballast-lab-vip-'));
    let lab: Lab | null = null;
    try {
      let t = Date.now();
      await ensurePackages(log);
      const bundle = await debianTestBundle({ log });
      figure('packages and test bundle ready', Date.now() - t);
      t = Date.now();
      lab = await Lab.up({ hosts: 3, log });
      figure('lab up (3 hosts, agent installed, joined)', Date.now() - t);
      const hosts = lab.state.hosts;
      t = Date.now();
      await lab.ctl(['artifacts', 'import', bundle.path, '-o', 'json'], { timeoutMs: 120_000 });
      const tls = await clusterTls({ addresses: hosts.map((h) => h.address), names: hosts.map((h) => h.name), vip: VIP });
      const names = hosts.map((h) => h.name);
      const initialCluster = hosts.map((h) => `${h.name}=https://${h.address}:2380`).join(',');
      // The three members start together: etcd (Type=notify) reports ready only once a quorum has formed.
      // Pre-vote is on in the etcd role (the default from etcd 3.5, off in Debian's 3.4): without it a member returning from a
      // partition forces an election with its inflated term, every keep-alive stalls for ~1–2 s and the
      // healthy holder self-fences — measured here as a second 1.3–2.3 s gap after each heal.
      await applyRole(lab, 'etcd', names, join(workDir, 'etcd.yaml'), { tls: tls.etcdVars, initialCluster });
      figure('etcd role applied to 3 hosts (3-member cluster over mTLS)', Date.now() - t);
      await Promise.all(names.map((n) => installVipFront(lab!, n)));
      t = Date.now();
      const vipVars = {
        name: VIP_NAME,
        address: VIP,
        prefixLength: 32,
        interface: 'eth0',
        etcdEndpoint: `https://127.0.0.1:${ETCD_PORT}`,
        tls: { caCert: tls.ca.certPem, clientCert: tls.election.certPem, clientKey: tls.election.keyPem },
        health: {
          kind: 'https',
          url: `https://127.0.0.1:${ETCD_PORT}/health`,
          caFile: `${ETCD_PKI}/ca.crt`,
          certFile: `${ETCD_PKI}/healthcheck-client.crt`,
          keyFile: `${ETCD_PKI}/healthcheck-client.key`,
        },
      };
      await applyRole(lab, 'vip', names, join(workDir, 'vip.yaml'), vipVars);
      figure('vip role applied to 3 hosts', Date.now() - t);
      const pki = join(workDir, 'probe-pki');
      mkdirSync(pki, { mode: 0o700 });
      const files = { ca: join(pki, 'ca.crt'), cert: join(pki, 'probe.crt'), key: join(pki, 'probe.key') };
      writeFileSync(files.ca, tls.ca.certPem);
      writeFileSync(files.cert, tls.probe.certPem);
      writeFileSync(files.key, tls.probe.keyPem, { mode: 0o600 });
      const tracers = await startTracers({
        workDir,
        clientNetns: lab.state.clientNetns,
        hosts: hosts.map((h) => ({ name: h.name, netns: h.netns })),
        vip: VIP,
        port: ETCD_PORT,
        tls: files,
        maxSeconds: options.maxSeconds ?? 3600,
      });
      const vl = new VipLab(lab, workDir, tls, tracers, vipVars, log);
      t = Date.now();
      await vl.waitSteady(30_000);
      figure('first VIP holder elected and answering through the VIP', Date.now() - t);
      return vl;
    } catch (err) {
      log(`vip lab setup failed, tearing down: ${err instanceof Error ? err.message : String(err)}`);
      if (lab) await lab.down();
      rmSync(workDir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Stops the tracers, tears the lab down, removes the work dir (keeps the traces if asked). */
  async down(keepTracesIn?: string): Promise<void> {
    try {
      await this.tracers.stop();
      if (keepTracesIn) {
        mkdirSync(keepTracesIn, { recursive: true });
        for (const f of ['probe.jsonl', 'samples.jsonl', 'probe.log', 'sampler.log', 'chaos-results.json', 'bench-results.json']) {
          await run(['cp', join(this.workDir, f), join(keepTracesIn, f)], { allowFail: true });
        }
        // The agents' and etcd's own account, for a round that failed (hosts that are down are skipped).
        await this.lab.saveJournals(keepTracesIn, this.hosts.filter((n) => this.reachable(n)));
      }
    } finally {
      try {
        await this.lab.down();
      } finally {
        rmSync(this.workDir, { recursive: true, force: true });
      }
    }
  }

  /** Is the host powered on and plugged in? */
  reachable(name: string): boolean {
    const h = this.lab.host(name);
    return isAlive(h.init) && !h.partitioned;
  }

  /** Hosts that have the VIP on eth0 right now (read from outside, like the sampler). */
  async holders(): Promise<string[]> {
    const out: string[] = [];
    await Promise.all(
      this.lab.state.hosts.map(async (h) => {
        const r = await run(['ip', '-j', '-n', h.netns, 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5000 });
        const links = JSON.parse(r.stdout) as Array<{ addr_info?: Array<{ local?: string }> }>;
        if (links.some((l) => (l.addr_info ?? []).some((a) => a.local === VIP))) out.push(h.name);
      }),
    );
    return out.sort();
  }

  /** The single holder, waiting up to `timeoutMs` for there to be exactly one (optionally not `not`). */
  async waitHolder(timeoutMs: number, not?: string): Promise<string> {
    return waitUntil(
      `exactly one VIP holder${not ? ` other than ${not}` : ''}`,
      async () => {
        const h = await this.holders();
        return h.length === 1 && h[0] !== not ? h[0] : undefined;
      },
      { timeoutMs, intervalMs: 50 },
    );
  }

  /** etcdctl inside a reachable host, against the given endpoints (all members by default). */
  async etcdctl(args: string[], options: { endpoints?: string[]; allowFail?: boolean; timeoutMs?: number } = {}) {
    const from = this.hosts.find((n) => this.reachable(n));
    if (from === undefined) throw new Error('failed to run etcdctl: no reachable host');
    const endpoints = options.endpoints ?? this.lab.state.hosts.filter((h) => this.reachable(h.name)).map((h) => `https://${h.address}:${ETCD_PORT}`);
    return this.lab.exec(from, ['etcdctl', '--endpoints', endpoints.join(','), ...ETCD_TLS_ARGS, '--dial-timeout', '1s', '--command-timeout', '2s', ...args], {
      allowFail: options.allowFail ?? false,
      timeoutMs: options.timeoutMs ?? 15_000,
    });
  }

  /** Every reachable member's ID and whether it is the leader (`endpoint status -w simple`). */
  async etcdMembers(): Promise<EtcdMember[]> {
    const r = await this.etcdctl(['endpoint', 'status', '-w', 'simple'], { allowFail: true });
    const members: EtcdMember[] = [];
    for (const line of r.stdout.trim().split('\n')) {
      // https://198.18.0.11:2379, 8e9e05c52164694d, 3.4.23, 20 kB, true, false, 2, 8, 8,
      const cols = line.split(',').map((c) => c.trim());
      const host = this.lab.state.hosts.find((h) => cols[0] === `https://${h.address}:${ETCD_PORT}`);
      if (host && cols[1]) members.push({ host: host.name, id: cols[1], leader: cols[4] === 'true' });
    }
    return members;
  }

  async etcdLeader(): Promise<string | null> {
    return (await this.etcdMembers()).find((m) => m.leader)?.host ?? null;
  }

  /**
   * If `host` is the etcd leader, hands leadership to another member (etcd's move-leader) and
   * waits for it: DESIGN, "keep the VIP holder and the etcd leader on different hosts". Returns
   * whether it had to.
   */
  async moveEtcdLeaderAwayFrom(host: string): Promise<boolean> {
    const members = await this.etcdMembers();
    const leader = members.find((m) => m.leader);
    if (leader?.host !== host) return false;
    const target = members.find((m) => !m.leader && this.reachable(m.host));
    if (!target) throw new Error('failed to move the etcd leader: no other reachable member');
    const endpoint = `https://${this.lab.host(host).address}:${ETCD_PORT}`;
    await this.etcdctl(['move-leader', target.id], { endpoints: [endpoint] });
    await waitUntil('the etcd leader to move', async () => ((await this.etcdLeader()) === target.host ? true : undefined), { timeoutMs: 10_000, intervalMs: 100 });
    return true;
  }

  /** The MainPID of a unit inside a host (0 when not running). */
  async mainPid(host: string, unit: string): Promise<number> {
    const r = await this.lab.exec(host, ['systemctl', 'show', '-p', 'MainPID', '--value', unit]);
    return Number(r.stdout.trim());
  }

  /**
   * Steady state: every host up and plugged in, etcd healthy on all members, the keeper running on
   * every host, exactly one holder, and the client answered through the VIP for the last 500 ms.
   */
  async waitSteady(timeoutMs: number): Promise<string> {
    const keeper = this.system === 'ballast' ? 'ballast-agent' : 'keepalived';
    const holder = await waitUntil(
      'the VIP lab to be steady (etcd healthy, keepers active, one holder, client answered)',
      async () => {
        if (!this.hosts.every((n) => this.reachable(n))) return undefined;
        const health = await this.etcdctl(['endpoint', 'health'], { allowFail: true });
        if (health.code !== 0) return undefined;
        for (const n of this.hosts) {
          const r = await this.lab.exec(n, ['systemctl', 'is-active', keeper], { allowFail: true });
          if (r.stdout.trim() !== 'active') return undefined;
        }
        const h = await this.holders();
        if (h.length !== 1) return undefined;
        const since = Date.now() - 500;
        const recent = this.tracers.recentProbes(since);
        return recent.length >= 10 && recent.every((p) => p.ok) ? h[0] : undefined;
      },
      { timeoutMs, intervalMs: 200 },
    );
    return holder;
  }
}

/**
 * etcd listens on the host's address and 127.0.0.1 only (the role's ETCD_LISTEN_CLIENT_URLS), while
 * kube-apiserver, the production service behind the VIP, binds the wildcard address. So each host
 * gets a socket on VIP:2379 (FreeBind: it binds before the host owns the VIP, no sysctl needed)
 * handed to systemd-socket-proxyd, which forwards the bytes to the local member: TLS stays end to
 * end between the client and etcd, and a host whose etcd is down refuses through the VIP too.
 */
async function installVipFront(lab: Lab, host: string): Promise<void> {
  const socket = `[Unit]
Description=VIP front for the local etcd (lab)

[Socket]
ListenStream=${VIP}:${ETCD_PORT}
FreeBind=true

[Install]
WantedBy=sockets.target
`;
  const service = `[Unit]
Description=VIP front for the local etcd (lab)

[Service]
ExecStart=/lib/systemd/systemd-socket-proxyd --connections-max=256 127.0.0.1:${ETCD_PORT}
`;
  await lab.exec(host, ['sh', '-c', 'cat > /etc/systemd/system/etcd-vip-front.socket'], { input: socket });
  await lab.exec(host, ['sh', '-c', 'cat > /etc/systemd/system/etcd-vip-front.service'], { input: service });
  await lab.exec(host, ['systemctl', 'daemon-reload']);
  await lab.exec(host, ['systemctl', 'enable', '--now', 'etcd-vip-front.socket']);
}

/** Runs a role on hosts with a vars file (`ballastctl apply … -o json`); throws unless it succeeded. */
export async function applyRole(lab: Lab, role: string, hosts: string[], varsFile: string, vars: Record<string, unknown>): Promise<RunDocument> {
  writeFileSync(varsFile, stringify(vars), { mode: 0o600 });
  const r = await lab.ctl(['apply', role, '--hosts', hosts.join(','), '--vars', varsFile, '-o', 'json'], { timeoutMs: 300_000, allowFail: true });
  if (r.stdout.trim() === '') throw new Error(`failed to apply ${role}: ballastctl printed nothing (exit ${r.code}): ${r.stderr.trim()}`);
  const doc = JSON.parse(r.stdout) as RunDocument;
  if (r.code !== 0 || doc.status !== 'succeeded') {
    const why = doc.hosts.flatMap((h) => [
      ...(h.error === null ? [] : [`${h.name}: ${h.error.code}: ${h.error.message}`]),
      ...h.results.filter((x) => x.status === 'failed').map((x) => `${h.name} [${x.name}]: ${x.error?.message ?? x.message}`),
    ]);
    throw new Error(`failed to apply ${role} on ${hosts.join(',')}: run ${doc.id} ${doc.status}\n  ${why.join('\n  ')}`);
  }
  return doc;
}

