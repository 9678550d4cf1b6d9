/**
 * Helpers of the snapshot tests: a real single-member etcd on loopback (plain HTTP), or one under
 * mutual TLS in a host tree with the agent's maintenance module on it; started and stopped by PID.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answerEtcdRequest, createEtcdMaintenance, type EtcdMaintenancePort } from '../../agent/src/etcd/maintenance.js';
import type { SessionHandle } from '../../controller/src/hub/host-tracker.js';
import { S3Target } from '../../controller/src/snapshots/s3-target.js';
import { parseResponse } from '../../shared/src/protocol/responses.js';
import { etcdTls } from '../lab/support-roles.js';
import { freePort, tempDir, waitFor } from './harness.js';

export { freePort, tempDir };

/** A running etcd this test started. */
export interface StartedEtcd {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts etcd with its data in `dataDir` and waits for /health. */
export async function startEtcd(binDir: string, dataDir: string, clientPort: number, peerPort: number): Promise<StartedEtcd> {
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    join(binDir, 'etcd'),
    ['--name=t', `--data-dir=${dataDir}`, '--unsafe-no-fsync', `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=t=${peer}`, `--listen-metrics-urls=http://127.0.0.1:${await freePort()}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(`etcd on ${url}`, async () => {
    const res = await fetch(`${url}/health`).catch(() => null);
    return res?.status === 200 ? true : undefined;
  }, 30_000, 100).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\n${out}`);
  });
  return {
    url,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * A host tree (`root`) with a real etcd under mutual TLS, its files where the etcd role puts them
 * (/etc/etcd/etcd.env, /etc/etcd/pki, /usr/local/bin/etcdctl), as the agent's maintenance module
 * reads them. Stopped by PID.
 */
export interface TlsEtcdHost {
  root: string;
  clientUrl: string;
  /** The health-check client certificate, for an etcd client of the test's own. */
  clientTls: { ca: string; cert: string; key: string };
  /** Runs the real etcdctl against the member with the health-check client certificate. */
  etcdctl(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts {@link TlsEtcdHost} `name` under `dir` and waits until etcdctl answers through TLS. */
export async function startTlsEtcdHost(binDir: string, dir: string, name: string): Promise<TlsEtcdHost> {
  const tls = await etcdTls({ name, address: '127.0.0.1' });
  const root = join(dir, 'root');
  const pki = join(root, 'etc/etcd/pki');
  await mkdir(pki, { recursive: true });
  const files = { 'ca.crt': tls.vars.caCert, 'server.crt': tls.vars.serverCert, 'server.key': tls.vars.serverKey, 'healthcheck-client.crt': tls.vars.clientCert, 'healthcheck-client.key': tls.vars.clientKey };
  for (const [f, c] of Object.entries(files)) await writeFile(join(pki, f), c, { mode: 0o600 });
  await mkdir(join(root, 'usr/local/bin'), { recursive: true });
  await symlink(join(binDir, 'etcdctl'), join(root, 'usr/local/bin/etcdctl'));
  const [client, peer] = [await freePort(), await freePort()];
  const clientUrl = `https://127.0.0.1:${client}`;
  await writeFile(
    join(root, 'etc/etcd/etcd.env'),
    `ETCD_NAME=${name}\nETCD_LISTEN_CLIENT_URLS=${clientUrl}\nETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt\nETCD_CERT_FILE=/etc/etcd/pki/server.crt\nETCD_KEY_FILE=/etc/etcd/pki/server.key\n`,
  );
  const child = spawn(
    join(binDir, 'etcd'),
    [`--name=${name}`, `--data-dir=${join(dir, 'etcd')}`, '--unsafe-no-fsync', `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`, `--initial-cluster=${name}=http://127.0.0.1:${peer}`,
      '--client-cert-auth', `--trusted-ca-file=${join(pki, 'ca.crt')}`, `--cert-file=${join(pki, 'server.crt')}`, `--key-file=${join(pki, 'server.key')}`,
      `--listen-metrics-urls=http://127.0.0.1:${await freePort()}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let out = '';
  child.stderr?.on('data', (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  const etcdctl = (args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(join(binDir, 'etcdctl'), ['--endpoints', clientUrl, '--cacert', join(pki, 'ca.crt'), '--cert', join(pki, 'healthcheck-client.crt'), '--key', join(pki, 'healthcheck-client.key'), ...args], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
  await waitFor(`etcd on ${clientUrl}`, async () => ((await etcdctl(['endpoint', 'health']).catch(() => null)) === null ? undefined : true), 30_000, 200).catch(async (err: unknown) => {
    await stop();
    throw new Error(`${String(err)}\n${out}`);
  });
  return { root, clientUrl, clientTls: { ca: tls.vars.caCert, cert: tls.vars.clientCert, key: tls.vars.clientKey }, etcdctl, stop };
}

/**
 * The agent's side of `req.etcd` for a host tree: its real maintenance module (the real etcdctl,
 * the upload over HTTPS with the host's client certificate to `server`), answering as its hub
 * session would, the answer validated as the hub does. Only the websocket itself is left out.
 */
export function agentEtcdSession(opts: { root: string; server: string; caPem: string; certPem: string; keyPem: string }): { session: SessionHandle; maintenance: EtcdMaintenancePort } {
  const maintenance = createEtcdMaintenance({ root: opts.root, creds: { caPem: opts.caPem, certPem: opts.certPem, keyPem: opts.keyPem, config: { server: opts.server } } });
  const session: SessionHandle = {
    sessionId: `s-${randomBytes(3).toString('hex')}`,
    close: () => {},
    async request(make) {
      const req = make(`r${randomBytes(3).toString('hex')}`);
      if (req.type !== 'req.etcd') throw new Error(`unexpected ${req.type}`);
      return parseResponse(req, await answerEtcdRequest(req, maintenance));
    },
  };
  return { session, maintenance };
}

/** `moto_server` on this machine's PATH, or '' (the S3 parts of a test then skip, saying why). */
export const MOTO_SERVER = spawnSync('sh', ['-c', 'command -v moto_server'], { encoding: 'utf8' }).stdout.trim();

/**
 * moto's S3 server started on loopback with a bucket `snaps`, and the {@link S3Target} Ballast would
 * use against it (credentials in a 0600 file under `dir`). The caller ends `child`.
 */
export async function startMotoBucket(dir: string): Promise<{ child: ChildProcess; target: S3Target }> {
  const port = await freePort();
  const child = spawn(MOTO_SERVER, ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const creds = { accessKeyId: 'ballast-test', secretAccessKey: 'ballast-test-secret' };
  await waitFor('moto', async () => ((await fetch(endpoint).catch(() => null)) === null ? undefined : true), 30_000, 200);
  const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds });
  await admin.send(new CreateBucketCommand({ Bucket: 'snaps' }));
  admin.destroy();
  const credentialsFile = join(dir, 's3-creds.json');
  await writeFile(credentialsFile, JSON.stringify(creds), { mode: 0o600 });
  return { child, target: new S3Target({ endpoint, region: 'us-east-1', bucket: 'snaps', prefix: 'ballast/', credentialsFile }) };
}
