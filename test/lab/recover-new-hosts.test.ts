import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SnapshotImportResult, SnapshotInfo } from '../../shared/src/etcd-api.js';
import type { OperationDocument } from '../../shared/src/ops-api.js';
import { explainOp } from './support-ops.js';
import { createMarkers, type DrEnv, etcdStatus, firstTrue, kubectlOk, kubeletUnauthorized, leaseRenewals, markers, readyNodes, topRevision, vipReady } from './support-recover.js';
import { type KubeLab, kubeSkipReason, setupKubeLab } from './support-kube.js';
import { clusterFileFor, freshControllerWithKey, loseController } from './support-newhosts.js';
import { createCluster, nodesViaVip, powerCut, reshapeClusterFile, waitForNodes } from './support-replace.js';
import { figureRecorder, labSkipReason, log, secs } from './support-skip.js';
import { waitUntil } from './tool/exec.js';
import { KUBE_VIP } from './tool/kube-cluster.js';
import type { Lab } from './tool/lab.js';
import { snapshotKeyFile } from './tool/state.js';

// Issue 13, "restoring onto NEW hosts (all old hosts lost) works from the bundle alone", on real
// Kubernetes v1.36.3, following README "Step by step, when every old host is lost" literally
// through the real ballastctl. Six lab hosts: the old cluster on host1..3 (etcd + control plane
// each; no workers — a worker adds nothing the control planes' kubelets do not show), host4..6
// without an agent until the disaster. The user keeps the .bsnap file and the snapshot key off the
// controller; then every old host AND the controller's store are lost. A fresh controller (new
// store, new agent CA) with the kept key, the new hosts enrolled the README's way, the bundle
// imported, `cluster create` on the new hosts, `cluster recover --replace-current-data`.
const skipReason = labSkipReason('new-hosts recovery lab tests') ?? kubeSkipReason('new-hosts recovery lab tests');
const { figures, figure } = figureRecorder();

const HOSTS = ['host1', 'host2', 'host3', 'host4', 'host5', 'host6'];
const OLD = ['host1', 'host2', 'host3'];
const NEW = ['host4', 'host5', 'host6'];

describe.skipIf(skipReason !== null)('lab: real Kubernetes 1.36 — every old host and the controller lost; recovered onto new hosts from the kept bundle and key alone (README procedure)', () => {
  let env: KubeLab;
  let lab: Lab;
  /** What the user kept off the controller: the sealed file, the key, the old admin kubeconfig. */
  let kept: string;
  let dr: DrEnv;
  /** The same cluster through the old admin kubeconfig (issued before the disaster). */
  let drOld: DrEnv;
  const s = { snapshot: '', snapshotRevision: 0n, oldRevision: 0n, before: [] as string[], after: [] as string[], oldCa: '', recoverStart: 0 };

  beforeAll(async () => {
    const t0 = Date.now();
    // Only the old hosts are enrolled with the old controller; the new ones are bare machines.
    env = await setupKubeLab({ hosts: HOSTS.length, controlPlane: OLD.length, join: OLD, log });
    lab = env.lab;
    reshapeClusterFile(env.clusterFile, OLD, {});
    kept = join(env.work, 'kept');
    mkdirSync(kept, { mode: 0o700 });
    dr = { lab, kubeconfig: join(env.work, 'admin.conf'), cluster: 'lab' };
    drOld = { lab, kubeconfig: join(kept, 'admin.conf'), cluster: 'lab' };
    figure(`lab up (${HOSTS.length} hosts, ${OLD.length} enrolled) + Kubernetes bundle imported`, secs(Date.now() - t0));
  }, 25 * 60_000);

  afterAll(async () => {
    try {
      if (lab) await lab.saveJournals(join(lab.state.dir, 'logs'), NEW, ['ballast-agent', 'kubelet', 'etcd', 'containerd']).catch(() => {});
      if (process.env.BALLAST_LAB_KEEP !== '1') await env?.teardown();
    } finally {
      console.log(`\nNEW-HOSTS RECOVERY LAB FIGURES\n${figures.map(([k, v]) => `  ${k}: ${v}`).join('\n')}`);
    }
  }, 300_000);

  it('1. the old cluster on host1..3; markers, a snapshot whose file and key the user copies off the controller, later markers', async () => {
    figure('old cluster create (3 control planes)', secs(await createCluster(lab, env.clusterFile, drOld.kubeconfig, OLD)));

    s.before = await createMarkers(drOld, 'nh-before', 3);
    const snap = await lab.ctlJson<SnapshotInfo>(['etcd', 'snapshot', 'now', 'lab', '-o', 'json'], { timeoutMs: 180_000 });
    s.snapshot = snap.id;
    s.snapshotRevision = BigInt(snap.revision);
    // The user's copies, made as the README says: the sealed file from <data dir>/snapshots/, the key.
    copyFileSync(join(lab.state.controllerDataDir, 'snapshots', `${snap.id}.bsnap`), join(kept, `${snap.id}.bsnap`));
    copyFileSync(snapshotKeyFile(lab.state), join(kept, 'snapshot.key'));
    s.after = await createMarkers(drOld, 'nh-after', 3);
    s.oldRevision = topRevision(await etcdStatus(drOld));
    s.oldCa = readFileSync(join(lab.state.controllerDataDir, 'ca.crt'), 'utf8');
    expect(Object.keys(await markers(drOld)).sort()).toEqual([...s.before, ...s.after].sort());
    expect(s.oldRevision).toBeGreaterThan(s.snapshotRevision);
  }, 20 * 60_000);

  it('2. disaster: every old host powered off and the controller store lost; a fresh controller starts with the kept key', async () => {
    expect(s.snapshot, 'case 1 took the snapshot').not.toBe('');
    for (const h of OLD) await powerCut(lab, h);
    const lost = await loseController(lab);
    console.log(`old hosts ${OLD.join(', ')} powered off; the controller's data dir and key moved to ${lost}`);
    expect(await vipReady(lab, KUBE_VIP)).toBe(false);
    await freshControllerWithKey(lab, join(kept, 'snapshot.key'));
    // A fresh install: a new agent CA, no hosts, no snapshots, no cluster.
    expect(readFileSync(join(lab.state.controllerDataDir, 'ca.crt'), 'utf8')).not.toBe(s.oldCa);
    expect(await lab.hosts()).toEqual([]);
    expect((await lab.ctlJson<{ items: SnapshotInfo[] }>(['etcd', 'snapshot', 'list', '-o', 'json'])).items).toEqual([]);
  });

  it('3. README steps 2–5: the bundle imported, the new hosts enrolled, cluster create on them, recover --check names them, then the recovery', async () => {
    // The Kubernetes artifacts into the new controller's mirror (a fresh install has none).
    let t0 = Date.now();
    await lab.ctl(['artifacts', 'import', env.bundle.path, '-o', 'json'], { timeoutMs: 600_000 });
    figure('Kubernetes bundle imported into the fresh controller', secs(Date.now() - t0));

    // Step 2: the kept file, opened with the kept key; the PKI goes into the new store.
    t0 = Date.now();
    const imp = await lab.ctlJson<SnapshotImportResult>(['etcd', 'snapshot', 'import', join(kept, `${s.snapshot}.bsnap`), '-o', 'json'], { timeoutMs: 300_000 });
    figure(`etcd snapshot import (${Math.round(imp.snapshot.size / 1024)} KiB database, ${imp.snapshot.totalKeys} keys)`, secs(Date.now() - t0));
    expect(imp.status).toBe('imported');
    expect(imp.snapshot).toMatchObject({ id: s.snapshot, cluster: 'lab', revision: String(s.snapshotRevision) });
    expect(imp.pki.imported.length).toBeGreaterThan(0);

    // Step 3: token create + the agent's one-line install/join on each new host.
    t0 = Date.now();
    await lab.installAndJoin(NEW);
    figure(`new hosts enrolled (${lab.joinMethod}, 3 hosts)`, secs(Date.now() - t0));

    // Step 4: the same name, VIP and versions, the new hosts.
    const newFile = join(env.work, 'cluster-new.yaml');
    clusterFileFor(lab, env.clusterFile, newFile, NEW);
    t0 = Date.now();
    const created = await lab.ctl(['cluster', 'create', '-f', newFile, '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
    const cdoc = JSON.parse(created.stdout) as OperationDocument;
    expect(cdoc.state, explainOp(cdoc)).toBe('succeeded');
    figure('cluster create on the new hosts (3 control planes, imported CAs)', secs(Date.now() - t0));
    const kcfg = await lab.ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '2h'], { timeoutMs: 30_000 });
    writeFileSync(dr.kubeconfig, kcfg.stdout, { mode: 0o600 });
    await waitForNodes(lab, dr.kubeconfig, NEW, 180_000);
    // The new cluster is empty of markers (and serves with quorum: what the recovery's gate sees).
    expect(await markers(dr)).toEqual({});

    // Step 5: the gate refuses without the override; --check names what would be discarded.
    const refused = await lab.ctl(['cluster', 'recover', 'lab', '--from-snapshot', s.snapshot, '--yes'], { allowFail: true, timeoutMs: 120_000 });
    console.log(`$ ballastctl cluster recover lab --from-snapshot ${s.snapshot} --yes\n${refused.stdout}${refused.stderr}`);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('--replace-current-data');
    const check = await lab.ctl(['cluster', 'recover', 'lab', '--from-snapshot', s.snapshot, '--replace-current-data', '--check'], { timeoutMs: 120_000 });
    console.log(`$ ballastctl cluster recover lab --from-snapshot ${s.snapshot} --replace-current-data --check\n${check.stdout}${check.stderr}`);
    const discard = /its current data is discarded[^\n]*members ([^\n(]*)/.exec(check.stdout);
    expect(discard, 'the --check names what is discarded').not.toBeNull();
    expect(discard?.[1]?.split(',').map((m) => m.trim()).sort()).toEqual(NEW);
    expect(check.stdout).toMatch(/revision \d+, \d+ keys, DB [\d.]+ MiB/);
    expect(await markers(dr)).toEqual({}); // --check changed nothing

    t0 = Date.now();
    const rec = await lab.ctl(['cluster', 'recover', 'lab', '--from-snapshot', s.snapshot, '--replace-current-data', '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
    const rdoc = JSON.parse(rec.stdout) as OperationDocument;
    expect(rdoc.state, explainOp(rdoc)).toBe('succeeded');
    // A kubelet registers its Node once per process: the restored data has none of the new hosts'.
    expect(rdoc.steps.find((st) => st.key === 'kubelets/restart')?.message).toMatch(/^kubelet restarted on host4, host5, host6: /);
    const opEnd = Date.now();
    figure('cluster recover --replace-current-data operation (start → succeeded)', secs(opEnd - t0));
    const readyAt = await firstTrue(
      async () => {
        if (!(await vipReady(lab, KUBE_VIP))) return false;
        const ready = (await readyNodes(dr)) ?? [];
        const leases = await leaseRenewals(dr);
        return NEW.every((h) => ready.includes(h) && (leases[h] ?? 0) > t0);
      },
      { timeoutMs: 180_000, intervalMs: 500, what: '/readyz through the VIP and the new hosts\' Nodes Ready with renewed leases' },
    );
    figure('RTO: recover op start → /readyz through the VIP and host4..6 Ready, leases renewed', secs(readyAt - t0));
    for (const phase of ['stop', 'etcd', 'control-plane']) {
      const steps = rdoc.steps.filter((st) => st.phase === phase && st.startedAt !== null && st.endedAt !== null);
      if (steps.length > 0) figure(`  recover phase ${phase}`, secs(Math.max(...steps.map((st) => Date.parse(st.endedAt as string))) - Math.min(...steps.map((st) => Date.parse(st.startedAt as string)))));
    }
    s.recoverStart = t0;
  }, 25 * 60_000);

  it('4. exactly the snapshot is back, through the VIP and with the pre-disaster admin certificate; 3 new voters, revision forward, kubelets authorized; the old Nodes are NotReady ghosts until deleted', async () => {
    expect(s.recoverStart, 'case 3 recovered').toBeGreaterThan(0);
    const seen = await markers(dr);
    expect(Object.keys(seen).sort()).toEqual(s.before);
    for (const ns of s.before) expect(seen[ns]).toBe('nh-before');
    // The admin kubeconfig issued by the OLD controller before the disaster still reads: the CAs were imported.
    expect(await markers(drOld)).toEqual(seen);
    expect((await kubectlOk(drOld, ['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'])).trim()).toBe('ballast:admin');

    const status = await etcdStatus(dr);
    expect(status.members.map((m) => [m.host, m.status !== null, m.status?.isLearner, m.status?.alarms])).toEqual(NEW.map((h) => [h, true, false, []]));
    expect(status.leader).not.toBeNull();
    expect(topRevision(status)).toBeGreaterThan(s.oldRevision);
    await kubectlOk(dr, ['create', 'namespace', 'nh-written-after']);
    for (const h of NEW) expect(await kubeletUnauthorized(lab, h, s.recoverStart), h).toEqual([]);
    // The new Nodes were registered again after the restore; kubeadm's control-plane marks are back on them.
    const fresh = JSON.parse(await kubectlOk(dr, ['get', 'nodes', ...NEW, '-o', 'json'])) as { items: Array<{ metadata: { labels: Record<string, string> }; spec: { taints?: Array<{ key: string; effect: string }> } }> };
    for (const n of fresh.items) {
      expect(n.metadata.labels).toHaveProperty(['node-role.kubernetes.io/control-plane']);
      expect(n.spec.taints ?? []).toContainEqual(expect.objectContaining({ key: 'node-role.kubernetes.io/control-plane', effect: 'NoSchedule' }));
    }
    expect(fresh.items).toHaveLength(NEW.length);

    // The old hosts' Nodes come back with the restored data; with nothing renewing their leases the
    // node lifecycle controller marks them NotReady. README: `kubectl delete node` them.
    const ghosts = await waitUntil('the old Nodes to be NotReady', async () => {
      const nodes = await nodesViaVip(lab, dr.kubeconfig);
      const old = (nodes ?? []).filter((n) => OLD.includes(n.name));
      return old.length === OLD.length && old.every((n) => !n.ready) ? nodes : undefined;
    }, { timeoutMs: 180_000, intervalMs: 2000 });
    console.log(`$ kubectl get nodes (after the recovery)\n${await kubectlOk(dr, ['get', 'nodes'])}`);
    expect(ghosts?.map((n) => n.name).sort()).toEqual(HOSTS);
    await kubectlOk(dr, ['delete', 'node', ...OLD]);
    await waitForNodes(lab, dr.kubeconfig, NEW, 60_000);
  }, 10 * 60_000);
});
