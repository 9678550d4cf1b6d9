/**
 * The `image` module against a real containerd (Debian's 1.6, /usr/bin/containerd) started by this
 * test with its own root, state and socket under a scratch host root, no CRI plugin, and the real
 * exec adapter running /usr/bin/ctr. The archive is Ballast's own pause packed by the lab's image
 * builder from the cached pause binary (scripts/upstream/build.sh --only pause).
 *
 * Root only (containerd needs it); skipped with the reason printed otherwise. The containerd this
 * file starts is stopped by its PID and its directories removed.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../agent/src/host/exec.js';
import type { ArtifactRef, ArtifactSource } from '../../agent/src/tasks/module.js';
import { createImageModule } from '../../agent/src/tasks/modules/image.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { makeTempRoot, rejection, testContext } from '../../agent/src/tasks/testing.js';
import { sha256 } from '../support/bundle.js';
import { buildImageArchive, KUBE_1_36_PAUSE_TAG } from '../support/kube-images.js';

const run = promisify(execFile);
const PAUSE_BIN = process.env.BALLAST_PAUSE_BIN ?? '/var/cache/ballast/kube/v1.36.3/bin/pause';
const REF = `registry.k8s.io/pause:${KUBE_1_36_PAUSE_TAG}`;

function why(): string | null {
  if (process.getuid?.() !== 0) return 'needs root (containerd)';
  for (const bin of ['/usr/bin/containerd', '/usr/bin/ctr']) if (!existsSync(bin)) return `${bin} is not installed`;
  if (!existsSync(PAUSE_BIN)) return `${PAUSE_BIN} is absent (build it: scripts/upstream/build.sh --only pause)`;
  return null;
}
const skipReason = why();
if (skipReason !== null) console.log(`skipping image-import integration test: ${skipReason}`);

/** Serves whatever bytes the test sets, like the controller's mirror. */
class Source implements ArtifactSource {
  constructor(public data: Buffer) {}
  async open(_ref: ArtifactRef) {
    return { stream: Readable.from([this.data]), size: this.data.length };
  }
}

describe.skipIf(skipReason !== null)('image module on a real containerd', () => {
  let root: string;
  let containerd: ChildProcess | undefined;
  let socket: string;
  let archive: Buffer;
  let id: string;
  let source: Source;
  const registry = createModuleRegistry([createImageModule()]);
  const args = (over: Record<string, unknown> = {}) => ({ name: 'image-pause', version: KUBE_1_36_PAUSE_TAG, arch: 'amd64', sha256: sha256(archive), ref: REF, id, ctr: '/usr/bin/ctr', ...over });
  const ctx = () => testContext(root, { exec: createExec(), artifacts: source });
  const ctr = (...a: string[]) => run('/usr/bin/ctr', ['--address', socket, '--namespace', 'k8s.io', ...a]);

  beforeAll(async () => {
    root = await makeTempRoot('ballast-image-it-');
    socket = join(root, 'run/containerd/containerd.sock');
    await mkdir(join(root, 'etc/containerd'), { recursive: true });
    const config = join(root, 'etc/containerd/config.toml');
    await writeFile(
      config,
      [
        'version = 2',
        `root = "${root}/var/lib/containerd"`,
        `state = "${root}/run/containerd"`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
        '[grpc]',
        `  address = "${socket}"`,
        '[ttrpc]',
        `  address = "${socket}.ttrpc"`,
        '[metrics]',
        '  address = ""',
        '',
      ].join('\n'),
    );
    const built = await buildImageArchive({
      ref: REF,
      arch: 'amd64',
      files: [{ src: PAUSE_BIN, dest: '/pause', mode: 0o755 }],
      entrypoint: ['/pause'],
      user: '65535:65535',
      out: join(root, 'fixtures/pause.tar'),
    });
    archive = await readFile(join(root, 'fixtures/pause.tar'));
    id = built.id;
    source = new Source(archive);
    containerd = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    containerd.stderr?.on('data', (d: Buffer) => {
      log = (log + d.toString()).slice(-4000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await ctr('version');
        break;
      } catch (err) {
        if (Date.now() > deadline || containerd.exitCode !== null) throw new Error(`containerd did not come up: ${String(err)}\n${log}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }, 60_000);

  afterAll(async () => {
    const child = containerd;
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      process.kill(child.pid, 'SIGTERM');
      const timer = setTimeout(() => child.pid !== undefined && process.kill(child.pid, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  }, 30_000);

  it('imports the pause image, which containerd then reports under its reference with the config digest as ID', async () => {
    const first = await registry.run('image', args(), ctx());
    expect(first).toMatchObject({ changed: true, message: expect.stringContaining(`imported ${REF}`) });
    const { stdout } = await ctr('images', 'check', `name==${REF}`);
    expect(stdout).toMatch(new RegExp(`^${REF.replaceAll('.', '\\.')} .* complete `, 'm'));
    const digest = stdout.split('\n')[1]!.split(/\s+/)[2]!;
    const manifest = JSON.parse((await ctr('content', 'get', digest)).stdout) as { config: { digest: string } };
    expect(manifest.config.digest).toBe(id);
  });

  it('is unchanged on a second run (idempotent)', async () => {
    const started = Date.now();
    expect(await registry.run('image', args(), ctx())).toEqual({ changed: false, message: `${REF} is present (${id.slice(0, 19)}…)` });
    console.log(`[image] converged check on a real containerd: ${Date.now() - started} ms`);
  });

  it('refuses a tampered archive and a wrong ID, importing nothing; then imports the right one again', async () => {
    // Removed first: a present image is never downloaded again, so nothing would be checked.
    await ctr('images', 'rm', REF);
    // Tampered bytes under the pinned sha256: the download fails closed.
    const tampered = Buffer.from(archive);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 2000) ^ 0xff, tampered.length - 2000);
    source.data = tampered;
    expect(await rejection(registry.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH' });
    source.data = archive;
    // The right bytes under a task that names another image ID: refused before ctr runs.
    const wrong = `sha256:${'0'.repeat(64)}`;
    expect(await rejection(registry.run('image', args({ id: wrong }), ctx()))).toMatchObject({
      code: 'BALLAST_ERR_IMAGE_MISMATCH',
      message: expect.stringContaining(`the task expects ${wrong}`),
    });
    // A rebuilt archive (another entrypoint: another config, another ID) pinned by its own sha256 but
    // claimed to be the original ID: refused too.
    const other = await buildImageArchive({ ref: REF, arch: 'amd64', files: [{ src: PAUSE_BIN, dest: '/pause', mode: 0o755 }], entrypoint: ['/pause', '-v'], out: join(root, 'fixtures/other.tar') });
    source.data = await readFile(join(root, 'fixtures/other.tar'));
    expect(await rejection(registry.run('image', args({ sha256: other.sha256 }), ctx()))).toMatchObject({ code: 'BALLAST_ERR_IMAGE_MISMATCH' });
    expect((await ctr('images', 'check', `name==${REF}`)).stdout).toBe('');
    source.data = archive;
    expect(await registry.run('image', args(), ctx())).toMatchObject({ changed: true });
    expect(await registry.run('image', args(), ctx())).toMatchObject({ changed: false });
  });

  it('fails with BALLAST_ERR_CONTAINERD_UNAVAILABLE once containerd is stopped', async () => {
    const child = containerd!;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid!, 'SIGTERM');
    await exited;
    expect(await rejection(registry.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_CONTAINERD_UNAVAILABLE' });
  });
});
