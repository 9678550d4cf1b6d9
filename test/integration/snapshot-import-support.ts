/**
 * Fixtures of the snapshot import tests: the OLD world (a controller store with the cluster's real
 * ClusterPki, a real etcd 3.5 member under that PKI, keys written, a snapshot taken with etcdctl
 * and sealed by the old controller's real vault — the `.bsnap` a user copies off the host) and a
 * NEW controller (its own SQLite store, the kept key installed as its `--snapshot-key` file, the
 * real importer and routes over HTTPS) with ballastctl run in-process against it.
 */
import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { runCli } from '../../ballastctl/src/cli.js';
import { testApp } from '../../controller/src/api/testing.js';
import { createMetrics } from '../../controller/src/metrics.js';
import { createCa, issueServerCert } from '../../controller/src/pki/ca.js';
import { ClusterPki, type ClusterPkiBundle } from '../../controller/src/pki/cluster-pki.js';
import { etcdMemberTls } from '../../controller/src/pki/cluster-pki-files.js';
import type { ClusterPkiInputs } from '../../controller/src/pki/cluster-pki-items.js';
import { SnapshotImporter } from '../../controller/src/snapshots/import.js';
import { loadSnapshotKey } from '../../controller/src/snapshots/key-file.js';
import { createSnapshotMetrics } from '../../controller/src/snapshots/metrics.js';
import { policySource } from '../../controller/src/snapshots/policy.js';
import type { S3Target } from '../../controller/src/snapshots/s3-target.js';
import { fileSha256 } from '../../controller/src/snapshots/sealed-file.js';
import { SnapshotService } from '../../controller/src/snapshots/service.js';
import { snapshotStatus } from '../../controller/src/snapshots/tools.js';
import { UploadSlots } from '../../controller/src/snapshots/uploads.js';
import { SnapshotVault } from '../../controller/src/snapshots/vault.js';
import type { SnapshotRecord } from '../../controller/src/store/snapshots.js';
import { openStore, type Store } from '../../controller/src/store/store.js';
import { silentLogger } from '../../shared/src/log.js';
import { ETCD35_BIN, LoopbackEtcd } from './etcd-loopback.js';

/** PKI inputs for `members` on loopback. */
export const pkiInputs = (members: string[]): ClusterPkiInputs => ({
  etcdMembers: members.map((name) => ({ name, addresses: ['127.0.0.1'] })),
  controlPlane: members.map((name) => ({ name, addresses: ['127.0.0.1'] })),
  vip: '127.0.0.1',
  apiServerServiceIp: '10.96.0.1',
});

/** What survives the disaster, and what the test keeps to prove old clients still work. */
export interface OldWorld {
  /** The sealed bundle as the old controller wrote it. */
  sealedPath: string;
  record: SnapshotRecord;
  /** The snapshot key as its file (`openssl rand -hex 32` format). */
  keyHex: string;
  /** The same database sealed with ANOTHER key (a bundle from a different controller). */
  otherKeySealedPath: string;
  pki: ClusterPkiBundle;
}

/**
 * Builds the old world under `dir` and destroys everything but the sealed files: the etcd member
 * is killed and its data, the old store and the plaintext database are deleted.
 */
export async function oldWorld(dir: string): Promise<OldWorld> {
  const storeA = openStore({ path: join(dir, 'old-controller.db') });
  const key = randomBytes(32);
  try {
    const pki = await new ClusterPki({ repo: storeA.clusterPki, log: silentLogger() }).ensure('lab', pkiInputs(['old-1']));
    const etcd = await LoopbackEtcd.create(join(dir, 'old'), ['old-1'], etcdMemberTls(pki, 'old-1'));
    etcd.start('old-1', ['old-1'], 'new');
    try {
      await etcd.waitLeader('old-1');
      await etcd.put('/registry/namespaces/kube-system', '{"kind":"Namespace"}');
      await etcd.put('/registry/namespaces/before', 'v1');
      await etcd.put('/registry/secrets/kube-system/bootstrap', 's1');
      const db = join(dir, 'snapshot.db');
      await etcd.snapshot('old-1', db);
      const st = await snapshotStatus(join(ETCD35_BIN, 'etcdutl'), db);
      const taken = { cluster: 'lab', trigger: 'manual' as const, host: 'old-1', member: 'old-1', dbPath: db, sha256: await fileSha256(db), size: (await stat(db)).size, revision: st.revision, totalKeys: st.totalKeys, etcdHash: st.hash, durationMs: 12 };
      const spec = { name: 'lab', versions: { kubernetes: '1.36.3', etcd: '3.5.33' } };
      const vault = new SnapshotVault({ dir: join(dir, 'old-snapshots'), repo: storeA.snapshots, key: async () => key, bundleInputs: () => ({ pki: storeA.clusterPki.list('lab'), spec }) });
      const record = await vault.store(taken);
      const other = new SnapshotVault({ dir: join(dir, 'other-snapshots'), repo: openStore({ path: join(dir, 'other.db') }).snapshots, key: async () => randomBytes(32), bundleInputs: () => ({ pki: storeA.clusterPki.list('lab'), spec }) });
      const otherRecord = await other.store(taken);
      return { sealedPath: vault.pathOf(record), record, keyHex: key.toString('hex'), otherKeySealedPath: other.pathOf(otherRecord), pki };
    } finally {
      await etcd.killAll();
    }
  } finally {
    storeA.close();
  }
}

/** A new controller with the importer over HTTPS, and ballastctl against it. */
export interface NewController {
  app: FastifyInstance;
  store: Store;
  vault: SnapshotVault;
  importer: SnapshotImporter;
  tokens: { admin: string; operator: string };
  url: string;
  caPem: string;
  /** ballastctl in-process as the admin (or `as`). */
  cli(argv: string[], as?: 'admin' | 'operator'): Promise<{ code: number; out: string; err: string }>;
  close(): Promise<void>;
}

/** Starts {@link NewController} under `dir` with the key file `keyHex` (the user's kept copy). */
export async function newController(opts: { dir: string; keyHex: string; s3: S3Target | null; maxBytes?: number }): Promise<NewController> {
  const store = openStore({ path: join(opts.dir, 'new-controller.db') });
  const keyPath = join(opts.dir, 'snapshot.key');
  await writeFile(keyPath, `${opts.keyHex}\n`, { mode: 0o600 });
  const key = () => loadSnapshotKey({ path: keyPath, generate: false, log: silentLogger() });
  const vault = new SnapshotVault({ dir: join(opts.dir, 'new-snapshots'), repo: store.snapshots, key, bundleInputs: (c) => ({ pki: store.clusterPki.list(c), spec: null }) });
  const importer = new SnapshotImporter({ vault, repo: store.snapshots, pki: store.clusterPki, transaction: (fn) => store.db.transaction(fn)(), key, s3: opts.s3, events: store.events, ...(opts.maxBytes === undefined ? {} : { maxBytes: opts.maxBytes }) });
  const metrics = createMetrics({ collectProcess: false });
  const hosts = { get: () => null, session: () => null };
  const policies = policySource(store.snapshots, () => null);
  const uploads = new UploadSlots();
  const service = new SnapshotService({ vault, repo: store.snapshots, uploads, hosts, spec: () => null, policy: (c) => policies.policy(c), events: store.events, metrics: createSnapshotMetrics(metrics.registry), s3: opts.s3, binDirs: [ETCD35_BIN], log: silentLogger() });
  const ca = await createCa({ commonName: 'test-ca' });
  const server = await issueServerCert({ ca, commonName: 'controller', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  const app = await testApp({ store, ca, metrics, https: { key: server.keyPem, cert: server.certPem, ca: ca.certPem }, etcd: { service, vault, repo: store.snapshots, uploads, hosts, policies, importer } });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const url = `https://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
  const tokens = { admin: store.operators.create({ name: 'a', role: 'admin' }).token, operator: store.operators.create({ name: 'o', role: 'operator' }).token };
  const indented = ca.certPem.trim().split('\n').map((l) => `  ${l}`).join('\n');
  const configs = { admin: join(opts.dir, 'admin.conf'), operator: join(opts.dir, 'operator.conf') };
  for (const role of ['admin', 'operator'] as const) {
    await writeFile(configs[role], `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${url}\ncaCert: |\n${indented}\ntoken: ${tokens[role]}\nuser: ${role}\n`, { mode: 0o600 });
  }
  return {
    app,
    store,
    vault,
    importer,
    tokens,
    url,
    caPem: ca.certPem,
    async cli(argv, as = 'admin') {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(argv, { stdout: { write: (t: string) => out.push(t) }, stderr: { write: (t: string) => err.push(t) }, env: { BALLAST_CONFIG: configs[as] }, homedir: opts.dir, cwd: opts.dir });
      return { code, out: out.join(''), err: err.join('') };
    },
    async close() {
      await app.close();
      store.close();
    },
  };
}
