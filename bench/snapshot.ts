/**
 * Snapshot and restore benchmark (issue 13: "Ballast ≤ 1.5× the floor"). A real etcd 3.5.33 under
 * mutual TLS filled with ~`--mb` MB; then, `--runs` times each, median reported:
 * - floor: `etcdctl snapshot save` (the member's certificates) and `etcdutl snapshot restore`
 *   (with `--bump-revision --mark-compacted`, as a Kubernetes restore needs);
 * - Ballast: the snapshot service through the agent's etcd module (etcdctl save with the upload
 *   reading the file as it is written, mTLS upload to the controller's HTTPS route, sha256 on both
 *   ends, sealed into format 2 as it arrives, fsync, record; then etcdutl status on the member) and
 *   the restore path a drill uses (open = decrypt + verify every segment and the sha256, then the
 *   same `etcdutl snapshot restore`).
 * The agent runs on a worker thread (on a cluster it is another process on the member); only the
 * websocket hop is an in-process call (a few bytes). Bounded by --max-minutes. JSON on stdout,
 * with the 1-minute load average before and after (the machine may be shared).
 *
 *   npm run build && node dist/bench/snapshot.js [--mb 100] [--runs 3] [--max-minutes 30] [--etcd-bin-dir DIR]
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { createEtcdClient } from '../shared/src/etcd/client.js';
import { buildApp } from '../controller/src/api/app.js';
import type { ClusterSpec } from '../controller/src/cluster/spec.js';
import type { HostView } from '../controller/src/fleet/directory.js';
import { HostTracker, type SessionHandle } from '../controller/src/hub/host-tracker.js';
import { createMetrics } from '../controller/src/metrics.js';
import { createCa, issueClientCert, issueLeafCert } from '../controller/src/pki/ca.js';
import { createSnapshotMetrics } from '../controller/src/snapshots/metrics.js';
import { policySource } from '../controller/src/snapshots/policy.js';
import { SnapshotService } from '../controller/src/snapshots/service.js';
import { UploadSlots } from '../controller/src/snapshots/uploads.js';
import { SnapshotVault } from '../controller/src/snapshots/vault.js';
import { openStore } from '../controller/src/store/store.js';
import { silentLogger } from '../shared/src/log.js';
import { caPublicKeyHash } from '../shared/src/pki.js';
import { parseResponse } from '../shared/src/protocol/responses.js';
import { benchArgs, usageError } from './lib/args.js';

const USAGE = `usage: node dist/bench/snapshot.js [--mb N] [--runs N] [--max-minutes N] [--etcd-bin-dir DIR]

etcd snapshot and restore, Ballast against etcdctl/etcdutl run directly (the floor), on a real etcd
3.5 under mutual TLS filled with ~N MB; medians of --runs alternating runs; JSON on stdout.

  --mb N             database size to generate, in MB (default 100)
  --runs N           runs of floor and Ballast each (default 3)
  --max-minutes N    hard bound on the whole run (default 30)
  --etcd-bin-dir DIR etcd, etcdctl, etcdutl (default /var/cache/ballast/etcd/v3.5.33/bin)`;

const { values } = benchArgs(USAGE, {
  options: {
    mb: { type: 'string', default: '100' },
    runs: { type: 'string', default: '3' },
    'max-minutes': { type: 'string', default: '30' },
    'etcd-bin-dir': { type: 'string', default: '/var/cache/ballast/etcd/v3.5.33/bin' },
  },
});
const BIN = values['etcd-bin-dir'];
const MB = Number(values.mb);
const RUNS = Number(values.runs);
const MAX_MINUTES = Number(values['max-minutes']);
if (!(Number.isInteger(MB) && MB >= 1 && MB <= 8192)) usageError(`--mb ${values.mb}: a whole number of MB, 1..8192`);
if (!(Number.isInteger(RUNS) && RUNS >= 1 && RUNS <= 100)) usageError(`--runs ${values.runs}: 1..100`);
if (!(MAX_MINUTES > 0)) usageError(`--max-minutes ${values['max-minutes']}: a positive number`);
const run = promisify(execFile);

function port(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a !== null ? a.port : 0));
    });
  });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-bench-snapshot-'));
  let etcd: ChildProcess | null = null;
  let agent: Worker | null = null;
  /** Inside Ballast's snapshot: the agent's whole answer (save + upload + status) and its etcdctl save alone. */
  const agentMs: number[] = [];
  const etcdctlMs: number[] = [];
  const store = openStore({ path: join(dir, 'ballast.db') });
  // Bounded: a bench that runs away (a stuck etcd, a machine too busy) stops and cleans up.
  const watchdog = setTimeout(() => {
    process.stderr.write(`snapshot bench: over --max-minutes ${values['max-minutes']}; stopping\n`);
    etcd?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    process.exit(3);
  }, MAX_MINUTES * 60_000);
  watchdog.unref();
  const loadBefore = loadavg();
  const t0 = performance.now();
  try {
    const etcdCa = await createCa({ commonName: 'bench-etcd-ca' });
    const server = await issueLeafCert({ ca: etcdCa, commonName: 'h1', usages: ['serverAuth', 'clientAuth'], dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const client = await issueClientCert({ ca: etcdCa, commonName: 'bench' });
    const root = join(dir, 'root');
    const pki = join(root, 'etc/etcd/pki');
    await mkdir(pki, { recursive: true });
    const files = { 'ca.crt': etcdCa.certPem, 'server.crt': server.certPem, 'server.key': server.keyPem, 'healthcheck-client.crt': client.certPem, 'healthcheck-client.key': client.keyPem };
    for (const [f, c] of Object.entries(files)) await writeFile(join(pki, f), c, { mode: 0o600 });
    await mkdir(join(root, 'usr/local/bin'), { recursive: true });
    for (const b of ['etcdctl', 'etcdutl']) await symlink(join(BIN, b), join(root, 'usr/local/bin', b));
    const [cp, pp] = [await port(), await port()];
    const url = `https://127.0.0.1:${cp}`;
    await writeFile(join(root, 'etc/etcd/etcd.env'), `ETCD_NAME=h1\nETCD_LISTEN_CLIENT_URLS=${url}\nETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt\nETCD_CERT_FILE=/etc/etcd/pki/server.crt\nETCD_KEY_FILE=/etc/etcd/pki/server.key\n`);
    etcd = spawn(join(BIN, 'etcd'), [
      '--name=h1', `--data-dir=${join(dir, 'etcd')}`, `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, `--listen-peer-urls=http://127.0.0.1:${pp}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${pp}`, `--initial-cluster=h1=http://127.0.0.1:${pp}`, '--client-cert-auth', `--trusted-ca-file=${join(pki, 'ca.crt')}`,
      `--cert-file=${join(pki, 'server.crt')}`, `--key-file=${join(pki, 'server.key')}`, '--quota-backend-bytes=8589934592', `--listen-metrics-urls=http://127.0.0.1:${await port()}`,
    ], { stdio: 'ignore' });
    const kv = createEtcdClient({ endpoints: [url], tls: { ca: etcdCa.certPem, cert: client.certPem, key: client.keyPem }, timeoutMs: 10_000 });
    for (let i = 0; ; i++) {
      if (await kv.post('/v3/maintenance/status', {}, { idempotent: true }).then(() => true, () => false)) break;
      if (i > 100) throw new Error('etcd did not start');
      await new Promise((r) => setTimeout(r, 200));
    }
    // Fill: 100 KiB values, 16 writes in flight.
    const value = randomBytes(100 * 1024).toString('base64');
    const count = Math.ceil((MB * 1024 * 1024) / (100 * 1024));
    for (let i = 0; i < count; i += 16) {
      await Promise.all(Array.from({ length: Math.min(16, count - i) }, (_, j) => kv.post('/v3/kv/put', { key: Buffer.from(`/bench/${i + j}`).toString('base64'), value })));
    }
    await kv.post('/v3/kv/put', { key: Buffer.from('/registry/namespaces/kube-system').toString('base64'), value: Buffer.from('x').toString('base64') });
    const fillMs = performance.now() - t0;

    // The controller side over real HTTPS with mTLS.
    const ca = await createCa({ commonName: 'bench-controller-ca' });
    const serving = await issueLeafCert({ ca, commonName: 'controller', usages: ['serverAuth'], dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
    const agentCert = await issueClientCert({ ca, commonName: 'h1' });
    const metrics = createMetrics({ collectProcess: false });
    const key = randomBytes(32);
    const vault = new SnapshotVault({ dir: join(dir, 'snapshots'), repo: store.snapshots, key: async () => key, bundleInputs: () => ({ pki: [], spec: null }) });
    const uploads = new UploadSlots();
    const spec = { name: 'bench', hosts: [{ name: 'h1', address: '127.0.0.1', roles: ['etcd'] }] } as unknown as ClusterSpec;
    const hosts = { get: (_n: string): HostView | null => null, session: (_id: string): SessionHandle | null => null };
    const policies = policySource(store.snapshots, () => spec);
    const service = new SnapshotService({
      vault, repo: store.snapshots, uploads, hosts, spec: () => spec, policy: (c) => policies.policy(c), events: store.events,
      metrics: createSnapshotMetrics(metrics.registry), s3: null, binDirs: [BIN], log: silentLogger(),
    });
    const app = buildApp({
      store, tracker: new HostTracker({ log: silentLogger(), sink: { transition: () => {} } }), metrics, log: silentLogger(), ca, caHash: caPublicKeyHash(ca.certPem),
      serverUrl: () => '', now: Date.now, https: { key: serving.keyPem, cert: serving.certPem, ca: ca.certPem },
      hostAuth: { identify: () => ({ ok: true, host: { id: 'h1', name: 'h1' } }) }, etcd: { service, vault, repo: store.snapshots, uploads, hosts, policies },
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const addr = app.server.address();
    // The agent runs on a thread of its own (bench/snapshot-agent-worker.ts): on a cluster it is another process on the member.
    const agentOptions = { root, creds: { caPem: ca.certPem, certPem: agentCert.certPem, keyPem: agentCert.keyPem, config: { server: `https://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}` } } };
    agent = new Worker(new URL('./snapshot-agent-worker.js', import.meta.url), { workerData: agentOptions });
    const worker = agent;
    const session: SessionHandle = {
      sessionId: 'bench',
      close: () => {},
      async request(make) {
        const req = make(randomBytes(4).toString('hex'));
        if (req.type !== 'req.etcd') throw new Error(req.type);
        const t0 = performance.now();
        const reply = await new Promise<{ ok: true; res: unknown } | { ok: false; message: string }>((resolve) => {
          worker.once('message', resolve);
          worker.postMessage(req);
        });
        if (!reply.ok) throw new Error(reply.message);
        const res = parseResponse(req, reply.res);
        agentMs.push(performance.now() - t0);
        if ('saveMs' in res && typeof res.saveMs === 'number') etcdctlMs.push(res.saveMs);
        return res;
      },
    };
    hosts.get = () => ({ id: 'h1', name: 'h1', connected: true, state: 'healthy' }) as HostView;
    hosts.session = () => session;

    const floorSave: number[] = [];
    const floorRestore: number[] = [];
    const ballastSave: number[] = [];
    const ballastRestore: number[] = [];
    const ballastOpen: number[] = [];
    let size = 0;
    const tls = ['--endpoints', url, '--cacert', join(pki, 'ca.crt'), '--cert', join(pki, 'healthcheck-client.crt'), '--key', join(pki, 'healthcheck-client.key')];
    for (let r = 0; r < RUNS; r++) {
      const db = join(dir, `floor-${r}.db`);
      floorSave.push(await timed(() => run(join(BIN, 'etcdctl'), [...tls, 'snapshot', 'save', db])));
      // The floor restores with the same flags a Kubernetes restore needs (and Ballast uses).
      floorRestore.push(await timed(() => run(join(BIN, 'etcdutl'), ['snapshot', 'restore', db, '--data-dir', join(dir, `floor-restore-${r}`), '--bump-revision', '1000000000', '--mark-compacted'])));
      await rm(db);
      await rm(join(dir, `floor-restore-${r}`), { recursive: true });
      let id = '';
      ballastSave.push(await timed(async () => {
        const rec = await service.take('bench', 'manual');
        id = rec.id;
        size = rec.size;
      }));
      const into = join(dir, `open-${r}`);
      await mkdir(into, { mode: 0o700 });
      ballastRestore.push(await timed(async () => {
        const t0 = performance.now();
        const opened = await vault.open(id, into);
        ballastOpen.push(performance.now() - t0);
        await run(join(BIN, 'etcdutl'), ['snapshot', 'restore', opened.dbPath, '--data-dir', join(into, 'data'), '--bump-revision', '1000000000', '--mark-compacted']);
      }));
      await rm(into, { recursive: true });
    }
    await app.close();
    const out = {
      dbBytes: size,
      runs: RUNS,
      fillSeconds: Math.round(fillMs / 1000),
      loadAverage1m: { before: +(loadBefore[0] ?? 0).toFixed(2), after: +(loadavg()[0] ?? 0).toFixed(2) },
      cpus: cpus().length,
      floor: { saveMs: Math.round(median(floorSave)), restoreMs: Math.round(median(floorRestore)) },
      ballast: { saveMs: Math.round(median(ballastSave)), restoreMs: Math.round(median(ballastRestore)) },
      ratio: { save: +(median(ballastSave) / median(floorSave)).toFixed(2), restore: +(median(ballastRestore) / median(floorRestore)).toFixed(2) },
      samplesMs: { floorSave: floorSave.map(Math.round), floorRestore: floorRestore.map(Math.round), ballastSave: ballastSave.map(Math.round), ballastRestore: ballastRestore.map(Math.round), ballastOpen: ballastOpen.map(Math.round), ballastAgent: agentMs.map(Math.round), ballastEtcdctl: etcdctlMs.map(Math.round) },
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } finally {
    etcd?.kill('SIGKILL');
    await agent?.terminate();
    store.close();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
