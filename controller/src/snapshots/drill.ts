/**
 * The restore drill: proves a snapshot restores, on the controller host, touching no cluster.
 *
 * 1. verify — decrypt into a private temporary directory; GCM tag and database sha256 must match.
 * 2. status — `etcdutl snapshot status`: etcd's hash, revision and key count must equal the
 *    values recorded when the snapshot was taken.
 * 3. restore — `etcdutl snapshot restore` with the flags `cluster recover` uses
 *    (`--bump-revision`, `--mark-compacted`) into a temporary data dir.
 * 4. etcd — start a throwaway single-member etcd on loopback ephemeral ports; wait for /health.
 * 5. read — `/registry/namespaces/kube-system` must exist (a Kubernetes cluster always has it).
 * 6. apiserver — start a temporary kube-apiserver on it, with the bundle's own CA and
 *    service-account key (so the bundle's PKI is proven too), and list namespaces as the
 *    controller's admin identity; skipped with the reason recorded when kube-apiserver is not in
 *    the drill bin dirs or the bundle has no Kubernetes PKI.
 *
 * Everything runs under a temporary directory and loopback ports, and is stopped and removed at
 * the end whatever the outcome.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import type { DrillRecord, DrillStep } from '../store/snapshots.js';
import { startApiServer } from './drill-apiserver.js';
import { freeLoopbackPort, etcdRange, waitHttpOk } from './drill-net.js';
import { findTool, requireTool, runTool, snapshotStatus, startTool, type ToolProcess } from './tools.js';
import type { OpenedSnapshot, SnapshotVault } from './vault.js';
import { randomBytes } from 'node:crypto';

/** Revisions a restore jumps ahead by (as `cluster recover` does): far beyond any write in between. */
export const RESTORE_BUMP_REVISION = 1_000_000_000;

/** Options of {@link runDrill}. */
export interface DrillOptions {
  vault: SnapshotVault;
  snapshotId: string;
  binDirs: readonly string[];
  now?: () => number;
  /** Deadline for the throwaway etcd to answer /health, ms. */
  etcdStartMs?: number;
  /** Deadline for the temporary kube-apiserver's /readyz, ms. */
  apiserverStartMs?: number;
}

/** Runs one drill; never throws for a failed step (the record says what failed), only for a missing snapshot. */
export async function runDrill(opts: DrillOptions): Promise<DrillRecord> {
  const now = opts.now ?? Date.now;
  const record = opts.vault.get(opts.snapshotId);
  const startedAt = now();
  const t0 = performance.now();
  const steps: DrillStep[] = [];
  const procs: ToolProcess[] = [];
  const work = await opts.vault.scratch();
  let error: string | null = null;

  async function step(name: string, fn: () => Promise<string | { skipped: string }>): Promise<void> {
    const s0 = performance.now();
    try {
      const detail = await fn();
      steps.push(
        typeof detail === 'string'
          ? { name, outcome: 'passed', detail, durationMs: performance.now() - s0 }
          : { name, outcome: 'skipped', detail: detail.skipped, durationMs: performance.now() - s0 },
      );
    } catch (err) {
      steps.push({ name, outcome: 'failed', detail: messageOf(err), durationMs: performance.now() - s0 });
      throw err;
    }
  }

  try {
    const etcdutl = await requireTool(opts.binDirs, 'etcdutl');
    const etcdBin = await requireTool(opts.binDirs, 'etcd');
    const opened: { snap?: OpenedSnapshot } = {};
    await step('verify', async () => {
      opened.snap = await opts.vault.open(record.id, work);
      return `sha256 ${record.sha256} (${record.size} bytes) matches`;
    });
    const snap = opened.snap;
    if (snap === undefined) throw new BallastError('BALLAST_ERR_INTERNAL', 'the verify step opened nothing');
    await step('status', async () => {
      const st = await snapshotStatus(etcdutl, snap.dbPath);
      const diffs: string[] = [];
      if (st.totalKeys !== record.totalKeys) diffs.push(`${st.totalKeys} keys, recorded ${record.totalKeys}`);
      if (st.revision !== record.revision) diffs.push(`revision ${st.revision}, recorded ${record.revision}`);
      // An imported snapshot has no etcd hash on record (snapshots/import.ts): its sha256 pins the bytes.
      if (record.etcdHash !== '' && st.hash !== record.etcdHash) diffs.push(`etcd hash ${st.hash}, recorded ${record.etcdHash}`);
      if (diffs.length > 0) throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `the restored database differs from the snapshot taken: ${diffs.join('; ')}`);
      return `revision ${st.revision}, ${st.totalKeys} keys, hash ${st.hash} as recorded`;
    });
    const [clientPort, peerPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const clientUrl = `http://127.0.0.1:${clientPort}`;
    const dataDir = join(work, 'etcd');
    await step('restore', async () => {
      await runTool(
        etcdutl,
        ['snapshot', 'restore', snap.dbPath, '--data-dir', dataDir, '--name', 'drill', '--initial-cluster', `drill=${peerUrl}`, '--initial-advertise-peer-urls', peerUrl,
          '--initial-cluster-token', `drill-${randomBytes(4).toString('hex')}`, '--bump-revision', String(RESTORE_BUMP_REVISION), '--mark-compacted'],
        600_000,
      );
      return `restored into a throwaway data dir with --bump-revision ${RESTORE_BUMP_REVISION} --mark-compacted`;
    });
    await step('etcd', async () => {
      const etcd = startTool(etcdBin, [
        '--name=drill', `--data-dir=${dataDir}`, '--unsafe-no-fsync',
        `--listen-client-urls=${clientUrl}`, `--advertise-client-urls=${clientUrl}`,
        `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=drill=${peerUrl}`,
        `--listen-metrics-urls=http://127.0.0.1:${await freeLoopbackPort()}`,
      ]);
      procs.push(etcd);
      await waitHttpOk(`${clientUrl}/health`, opts.etcdStartMs ?? 60_000, () => etcd.exited(), () => etcd.output());
      return `throwaway etcd (pid ${etcd.pid}) healthy on ${clientUrl}`;
    });
    await step('read', async () => {
      const ns = await etcdRange(clientUrl, '/registry/namespaces/kube-system');
      if (ns.count !== 1) throw new BallastError('BALLAST_ERR_DRILL_FAILED', 'the restored etcd has no /registry/namespaces/kube-system: this is not a Kubernetes cluster snapshot');
      return `/registry/namespaces/kube-system read (${ns.valueBytes} bytes); revision ${ns.revision} after the bump`;
    });
    await step('apiserver', async () => {
      const bin = await findTool(opts.binDirs, 'kube-apiserver');
      if (bin === null) return { skipped: `kube-apiserver is not in ${opts.binDirs.join(', ') || 'any --drill-bin-dir'}` };
      const result = await startApiServer({ bin, etcdUrl: clientUrl, bundle: snap.bundle, workDir: join(work, 'apiserver'), readyTimeoutMs: opts.apiserverStartMs ?? 180_000, procs });
      if ('skipped' in result) return result;
      if (!result.namespaces.includes('kube-system')) throw new BallastError('BALLAST_ERR_DRILL_FAILED', `kube-apiserver listed ${result.namespaces.join(', ')} but no kube-system`);
      return `kube-apiserver listed ${result.namespaces.length} namespaces: ${result.namespaces.slice(0, 10).join(', ')}`;
    });
  } catch (err) {
    error = messageOf(err);
    if (steps.length === 0) steps.push({ name: 'tools', outcome: 'failed', detail: error, durationMs: 0 });
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
    await rm(work, { recursive: true, force: true });
  }
  return {
    id: `drill-${record.id}-${randomBytes(3).toString('hex')}`,
    cluster: record.cluster,
    snapshotId: record.id,
    startedAt,
    durationMs: performance.now() - t0,
    outcome: error === null ? 'passed' : 'failed',
    steps,
    error,
  };
}
