/**
 * A real etcd cluster on loopback for recovery tests: members with mTLS (one dual-usage pair for
 * all), each with its own fake host root (`<dir>/<name>/`) holding `/var/lib/etcd`, the etcd
 * role's `/etc/etcd/pki` client files and `/usr/local/bin/etcdutl`, so the agent's modules run
 * against it exactly as on a host. Binaries: etcd 3.5.33 from /var/cache/ballast (the recovery
 * needs etcdutl's --bump-revision, which 3.4 lacks).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createEtcdClient, type EtcdClient } from '../../agent/src/etcd/client.js';
import { messageOf } from '../../shared/src/errors.js';
import { etcdTls } from '../lab/support-roles.js';
import { freePort, waitFor } from './harness.js';

const run = promisify(execFile);

/** Where the image build caches etcd 3.5 (etcd, etcdctl, etcdutl). */
export const ETCD35_BIN = process.env.BALLAST_ETCD35_BIN ?? '/var/cache/ballast/etcd/v3.5.33/bin';

export function etcd35Available(): boolean {
  return ['etcd', 'etcdctl', 'etcdutl'].every((b) => existsSync(join(ETCD35_BIN, b)));
}

export interface LoopbackMember {
  name: string;
  clientPort: number;
  peerPort: number;
  /** The member's fake host root. */
  root: string;
  proc: ChildProcess | null;
  exited: Promise<void> | null;
}

/** A loopback test member's TLS (client and peer, both verified) and fast-election flags; `pki` holds ca/server/peer files. */
export function etcdTestFlags(pki: string): string[] {
  return [
    '--client-cert-auth',
    `--trusted-ca-file=${pki}/ca.crt`,
    `--cert-file=${pki}/server.crt`,
    `--key-file=${pki}/server.key`,
    '--peer-client-cert-auth',
    `--peer-trusted-ca-file=${pki}/ca.crt`,
    `--peer-cert-file=${pki}/peer.crt`,
    `--peer-key-file=${pki}/peer.key`,
    '--logger=zap',
    '--heartbeat-interval=50',
    '--election-timeout=500',
  ];
}

export const peerUrl = (m: LoopbackMember) => `https://127.0.0.1:${m.peerPort}`;
export const clientUrl = (m: LoopbackMember) => `https://127.0.0.1:${m.clientPort}`;
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** The cluster and helpers around it. */
export class LoopbackEtcd {
  readonly members = new Map<string, LoopbackMember>();
  tls!: Awaited<ReturnType<typeof etcdTls>>;
  private constructor(readonly dir: string) {}

  /**
   * Prepares `names` (ports, roots, PKI, etcdutl); starts nothing. `vars`: the TLS material to use
   * (e.g. issued by the controller's ClusterPki) instead of a test CA of its own.
   */
  static async create(dir: string, names: string[], vars?: Awaited<ReturnType<typeof etcdTls>>['vars']): Promise<LoopbackEtcd> {
    const c = new LoopbackEtcd(dir);
    c.tls = await etcdTls({ name: 'etcd', address: '127.0.0.1' });
    if (vars !== undefined) c.tls = { ...c.tls, vars };
    const pki = join(dir, 'pki');
    await mkdir(pki, { recursive: true });
    const v = c.tls.vars;
    for (const [file, content] of Object.entries({ 'ca.crt': v.caCert, 'server.crt': v.serverCert, 'server.key': v.serverKey, 'peer.crt': v.peerCert, 'peer.key': v.peerKey })) {
      await writeFile(join(pki, file), content, { mode: 0o600 });
    }
    for (const name of names) {
      const root = join(dir, name);
      await mkdir(join(root, 'etc/etcd/pki'), { recursive: true });
      await mkdir(join(root, 'var/lib'), { recursive: true });
      await mkdir(join(root, 'usr/local/bin'), { recursive: true });
      await writeFile(join(root, 'etc/etcd/pki/ca.crt'), v.caCert);
      await writeFile(join(root, 'etc/etcd/pki/healthcheck-client.crt'), v.clientCert);
      await writeFile(join(root, 'etc/etcd/pki/healthcheck-client.key'), v.clientKey, { mode: 0o600 });
      await copyFile(join(ETCD35_BIN, 'etcdutl'), join(root, 'usr/local/bin/etcdutl'));
      c.members.set(name, { name, root, clientPort: await freePort(), peerPort: await freePort(), proc: null, exited: null });
    }
    return c;
  }

  member(name: string): LoopbackMember {
    const m = this.members.get(name);
    if (m === undefined) throw new Error(`no member ${name}`);
    return m;
  }

  dataDir(name: string): string {
    return join(this.member(name).root, 'var/lib/etcd');
  }

  initialCluster(names: string[]): string {
    return names.map((n) => `${n}=${peerUrl(this.member(n))}`).join(',');
  }

  /** A client over `names` (default: every member) with the health-check client certificate. */
  client(names = [...this.members.keys()]): EtcdClient {
    const v = this.tls.vars;
    return createEtcdClient({ endpoints: names.map((n) => clientUrl(this.member(n))), tls: { ca: v.caCert, cert: v.clientCert, key: v.clientKey }, timeoutMs: 3000 });
  }

  /** Starts `name`'s etcd on its data dir; `extra` for flags such as --force-new-cluster. */
  start(name: string, cluster: string[], state: 'new' | 'existing', extra: string[] = []): void {
    const m = this.member(name);
    const pki = join(this.dir, 'pki');
    const logFd = openSync(join(this.dir, `${name}.log`), 'a');
    const proc = spawn(
      join(ETCD35_BIN, 'etcd'),
      [
        `--name=${name}`,
        `--data-dir=${this.dataDir(name)}`,
        `--listen-client-urls=${clientUrl(m)}`,
        `--advertise-client-urls=${clientUrl(m)}`,
        `--listen-peer-urls=${peerUrl(m)}`,
        `--initial-advertise-peer-urls=${peerUrl(m)}`,
        `--initial-cluster=${this.initialCluster(cluster)}`,
        `--initial-cluster-state=${state}`,
        '--initial-cluster-token=ballast-etcd',
        ...etcdTestFlags(pki),
        ...extra,
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    m.proc = proc;
    m.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
  }

  async kill(name: string): Promise<void> {
    const m = this.member(name);
    if (m.proc?.pid !== undefined && m.proc.exitCode === null && m.proc.signalCode === null) process.kill(m.proc.pid, 'SIGKILL');
    await m.exited;
    m.proc = null;
  }

  /** SIGTERM, as `systemctl stop` (the recovery's etcd-stop step) sends: etcd flushes its WAL and exits. */
  async stop(name: string): Promise<void> {
    const m = this.member(name);
    if (m.proc?.pid !== undefined && m.proc.exitCode === null && m.proc.signalCode === null) process.kill(m.proc.pid, 'SIGTERM');
    await m.exited;
    m.proc = null;
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.members.keys()].map((n) => this.kill(n)));
  }

  /** Waits until `name` follows a leader; the member's log tail in the error otherwise. */
  async waitLeader(name: string, timeoutMs = 30_000): Promise<void> {
    const m = this.member(name);
    const client = this.client([name]);
    await waitFor(`etcd ${name} to follow a leader`, async () => ((await client.status(clientUrl(m))).leader !== '0' ? true : undefined), timeoutMs, 200).catch(async (err) => {
      throw new Error(`${messageOf(err)}\n${(await readFile(join(this.dir, `${name}.log`), 'utf8').catch(() => '')).slice(-3000)}`);
    });
  }

  async put(key: string, value: string): Promise<void> {
    await this.client().post('/v3/kv/put', { key: b64(key), value: b64(value) });
  }

  /** The value at `key` (null when absent) and the store's current revision. */
  async get(key: string, names?: string[]): Promise<{ value: string | null; revision: number }> {
    const answer = (await this.client(names).post('/v3/kv/range', { key: b64(key) }, { idempotent: true })) as {
      header?: { revision?: string };
      kvs?: { value?: string }[];
    };
    const kv = answer.kvs?.[0];
    return { value: kv === undefined ? null : Buffer.from(kv.value ?? '', 'base64').toString(), revision: Number(answer.header?.revision ?? 0) };
  }

  /** `etcdctl snapshot save` through `name`, as an operator would (the snapshot helper does it through an agent). */
  async snapshot(name: string, path: string): Promise<void> {
    const pki = join(this.member(name).root, 'etc/etcd/pki');
    await run(join(ETCD35_BIN, 'etcdctl'), [
      `--endpoints=${clientUrl(this.member(name))}`,
      `--cacert=${pki}/ca.crt`,
      `--cert=${pki}/healthcheck-client.crt`,
      `--key=${pki}/healthcheck-client.key`,
      'snapshot',
      'save',
      path,
    ]);
  }
}
