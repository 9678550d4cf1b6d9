/**
 * Download-ahead through the real engine, registry and artifact module on a temp root. The mirror
 * is a test double (there is no controller here) that can hold a download open until another one
 * was asked for: the proof that the next task's download streams while a task still runs — without
 * download-ahead that run could never finish.
 */
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { Task } from '../../../shared/src/tasks/task.js';
import { sha256 } from '../../../test/support/bundle.js';
import { createTaskEngine } from './engine.js';
import type { ArtifactRef, ArtifactSource } from './module.js';
import { ARTIFACT_WORK_DIR, artifactModule, downloadAhead } from './modules/artifact.js';
import { directoryModule } from './modules/directory.js';
import { PREFETCH_PREFIX } from './prefetch.js';
import { createModuleRegistry } from './registry.js';
import { FakeSystemd, fakeExec, makeTempRoot } from './testing.js';

const BINS = { kubelet: Buffer.from('\x7fELF kubelet'), kubeadm: Buffer.from('\x7fELF kubeadm'), kubectl: Buffer.from('\x7fELF kubectl') };
type Bin = keyof typeof BINS;

/** Test mirror: serves BINS; `holdUntil` keeps one download open until another one is asked for. */
class Mirror implements ArtifactSource {
  opened: string[] = [];
  corrupt = new Set<string>();
  holds = new Map<string, { until: string; release: () => void }>();
  async open(ref: ArtifactRef) {
    this.opened.push(ref.name);
    for (const h of this.holds.values()) if (h.until === ref.name) h.release();
    const data = this.corrupt.has(ref.name) ? Buffer.from('tampered') : BINS[ref.name as Bin];
    const hold = this.holds.get(ref.name);
    if (hold === undefined) return { stream: Readable.from([data]), size: data.length };
    const stream = new PassThrough();
    stream.write(data.subarray(0, 3));
    const prev = hold.release;
    hold.release = () => {
      prev();
      stream.end(data.subarray(3));
    };
    return { stream, size: data.length };
  }
  holdUntil(name: Bin, until: Bin) {
    this.holds.set(name, { until, release: () => undefined });
  }
}

const task = (name: Bin, sha = sha256(BINS[name])): Task => ({
  name: `Install ${name}`,
  module: 'artifact',
  args: { name, version: '1.36.3', arch: 'amd64', sha256: sha, install: [{ from: name, to: `/usr/bin/${name}` }] },
});

async function setup(opts: { prefetch?: boolean } = {}) {
  const root = await makeTempRoot();
  const mirror = new Mirror();
  const engine = createTaskEngine({
    registry: createModuleRegistry([artifactModule, directoryModule]),
    log: silentLogger(),
    ctxBase: { root, log: silentLogger(), exec: fakeExec(), systemd: new FakeSystemd(), artifacts: mirror },
    ...(opts.prefetch === false ? {} : { prefetch: { workDir: ARTIFACT_WORK_DIR, download: downloadAhead } }),
  });
  const run = (tasks: Task[], o: { check?: boolean; timeoutMs?: number; runId?: string } = {}) =>
    engine.run(
      { type: 'req.run', id: 'req-1', timeoutMs: o.timeoutMs ?? 20_000, run: { runId: o.runId ?? 'run-1', check: o.check ?? false, diff: false, tasks, handlers: [] } },
      () => undefined,
    );
  const leftovers = async () => (await readdir(join(root, ARTIFACT_WORK_DIR))).filter((n) => n.startsWith(PREFETCH_PREFIX));
  return { root, mirror, run, leftovers };
}

const ALL = () => [task('kubelet'), task('kubeadm'), task('kubectl')];

describe('download-ahead', () => {
  it("streams the next task's artifact while a task still downloads; every file installed, each downloaded once, nothing left", async () => {
    const { root, mirror, run, leftovers } = await setup();
    // kubelet's download completes only once kubeadm's was asked for: only download-ahead does that.
    mirror.holdUntil('kubelet', 'kubeadm');
    const summary = await run(ALL());
    expect(summary).toMatchObject({ changed: 3, failed: 0 });
    for (const name of Object.keys(BINS) as Bin[]) expect(await readFile(join(root, 'usr/bin', name))).toEqual(BINS[name]);
    expect(mirror.opened.sort()).toEqual(['kubeadm', 'kubectl', 'kubelet']);
    expect(await leftovers()).toEqual([]);
  });

  it('counts files ahead, not tasks: tasks that download nothing do not stall the stream', async () => {
    const { root, mirror, run, leftovers } = await setup();
    // kubeadm's task is 6 tasks after kubelet's; kubelet's download completes only once kubeadm's was
    // asked for. A window of 2 tasks ahead could never get there (the run would hang).
    mirror.holdUntil('kubelet', 'kubeadm');
    const dirs: Task[] = ['/etc/kubernetes/manifests', '/var/lib/kubelet', '/opt/cni/bin', '/etc/cni/net.d', '/etc/containerd'].map((path) => ({ name: `Create ${path}`, module: 'directory', args: { path } }));
    const summary = await run([task('kubelet'), ...dirs, task('kubeadm')], { timeoutMs: 5000 });
    expect(summary).toMatchObject({ changed: 7, failed: 0, cancelled: false });
    expect(await readFile(join(root, 'usr/bin/kubeadm'))).toEqual(BINS.kubeadm);
    expect(mirror.opened.sort()).toEqual(['kubeadm', 'kubelet']);
    expect(await leftovers()).toEqual([]);
  });

  it('without download-ahead the same held download never completes (the test can fail)', async () => {
    const { mirror, run } = await setup({ prefetch: false });
    mirror.holdUntil('kubelet', 'kubeadm');
    const summary = await run(ALL(), { timeoutMs: 1500 });
    expect(summary).toMatchObject({ cancelled: true, changed: 0 });
    expect(mirror.opened).toEqual(['kubelet']);
  });

  it('a converged host downloads nothing, and a check run never downloads ahead', async () => {
    const { mirror, run } = await setup();
    await run(ALL());
    mirror.opened = [];
    expect(await run(ALL(), { runId: 'run-2' })).toMatchObject({ ok: 3, changed: 0 });
    expect(await run([task('kubelet', sha256('another kubelet'))], { check: true, runId: 'run-3' })).toMatchObject({ changed: 1 });
    expect(mirror.opened).toEqual([]);
  });

  it('a download that fails its sha256 ahead is never used: the task downloads itself and fails closed, nothing installed, nothing left', async () => {
    const { root, mirror, run, leftovers } = await setup();
    mirror.corrupt.add('kubeadm');
    const summary = await run(ALL());
    expect(summary).toMatchObject({ changed: 1, failed: 1, skipped: 1 });
    expect(mirror.opened.filter((n) => n === 'kubeadm')).toHaveLength(2);
    await expect(readFile(join(root, 'usr/bin/kubeadm'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await leftovers()).toEqual([]);
  });

  it('a cancelled run removes what streamed ahead, and a crashed run’s leftovers go at the next run', async () => {
    const { root, mirror, run, leftovers } = await setup();
    mirror.holdUntil('kubelet', 'kubectl'); // never asked for in this run: it ends at its deadline, kubeadm streamed ahead
    expect(await run([task('kubelet'), task('kubeadm')], { timeoutMs: 1500 })).toMatchObject({ cancelled: true });
    expect(mirror.opened).toEqual(['kubelet', 'kubeadm']);
    expect(await leftovers()).toEqual([]);
    await mkdir(join(root, ARTIFACT_WORK_DIR), { recursive: true });
    await writeFile(join(root, ARTIFACT_WORK_DIR, `${PREFETCH_PREFIX}kubelet-1.36.3-amd64.0123456789ab`), 'half a download');
    mirror.holds.clear();
    expect(await run(ALL(), { runId: 'run-2' })).toMatchObject({ changed: 3 });
    expect(await leftovers()).toEqual([]);
  });
});
