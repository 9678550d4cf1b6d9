/**
 * The `image` module against a real containerd (Debian's 1.6, /usr/bin/containerd) started by this
 * test with its own root, state and socket under a scratch host root, no CRI plugin, and the real
 * exec adapter running /usr/bin/ctr. The archive is Ballast's own pause packed by the lab's image
 * builder from the cached pause binary (scripts/upstream/build.sh --only pause).
 *
 * Root only (containerd needs it); skipped with the reason printed otherwise. The containerd this
 * file starts is stopped by its PID and its directories removed.
 */
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../agent/src/host/exec.js';
import type { ArtifactRef, ArtifactSource } from '../../agent/src/tasks/module.js';
import { createImageModule } from '../../agent/src/tasks/modules/image.js';
import { createModuleRegistry } from '../../agent/src/tasks/registry.js';
import { makeTempRoot, rejection, testContext } from '../../agent/src/tasks/testing.js';
import { sha256 } from '../support/bundle.js';
import { type TestContainerd, containerdUnavailable, startContainerd } from '../support/containerd.js';
import { buildImageArchive, KUBE_1_36_PAUSE_TAG, PAUSE_BIN, PAUSE_REF, pauseBinMissing } from '../support/kube-images.js';

const REF = PAUSE_REF;
/** Why this file cannot run here (no root, no containerd, no pause binary), or null. */
const skipReason = containerdUnavailable() ?? pauseBinMissing();
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
  let containerd: TestContainerd | undefined;
  let archive: Buffer;
  let id: string;
  let source: Source;
  const registry = createModuleRegistry([createImageModule()]);
  const args = (over: Record<string, unknown> = {}) => ({ name: 'image-pause', version: KUBE_1_36_PAUSE_TAG, arch: 'amd64', sha256: sha256(archive), ref: REF, id, ctr: '/usr/bin/ctr', ...over });
  const ctx = () => testContext(root, { exec: createExec(), artifacts: source });
  const ctr = (...a: string[]) => {
    if (containerd === undefined) throw new Error('containerd is not running');
    return containerd.ctr(...a);
  };

  beforeAll(async () => {
    root = await makeTempRoot('ballast-image-it-');
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
    // containerd as on a host under the scratch root: the image module finds its default socket there.
    containerd = await startContainerd({
      dir: join(root, 'etc/containerd'),
      root: join(root, 'var/lib/containerd'),
      state: join(root, 'run/containerd'),
      socket: join(root, 'run/containerd/containerd.sock'),
    });
  }, 60_000);

  afterAll(async () => {
    await containerd?.stop();
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
    if (containerd === undefined) throw new Error('containerd is not running');
    await containerd.stop();
    expect(await rejection(registry.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_CONTAINERD_UNAVAILABLE' });
  });
});
