/**
 * Images end to end, no registry anywhere: a bundle with Ballast's own pause image (built by the
 * lab's builder) imported into a real controller's mirror by an admin, `ballastctl apply images`
 * rendering the role from the mirror's image entry, the real `ballast-agent run` downloading it over
 * mTLS and importing it into a real containerd (Debian's 1.6, started here with its own root and
 * state in a temp dir and its socket in a directory of its own under /run/containerd — the only
 * place the role lets a socket be). Then the same apply again changes nothing.
 *
 * Root only; skipped with the reason printed otherwise. The agent works on the real `/` as in
 * production: its download goes to /var/lib/ballast/artifacts and is removed (so are the directories
 * this test created for it). The containerd is stopped by its PID and its directories removed.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunDocument } from '../../shared/src/runs-api.js';
import { writeBundle } from '../support/bundle.js';
import { type TestContainerd, containerdUnavailable, startContainerd } from '../support/containerd.js';
import { buildImageArchive, KUBE_1_36_PAUSE_TAG, PAUSE_BIN, PAUSE_REF, pauseBinMissing } from '../support/kube-images.js';
import { createToken, joinAgent, requireBuild, runAgent, stopAll, TestController, tempDir, waitFor } from './harness.js';

const run = promisify(execFile);
const REF = PAUSE_REF;
const WORK_DIR = '/var/lib/ballast/artifacts';
/** The first directory of WORK_DIR's chain that did not exist before the test: removed after it. */
const CREATED = ['/var/lib/ballast', WORK_DIR];

/** Why this file cannot run here (no root, no containerd, no pause binary), or null. */
const skipReason = containerdUnavailable() ?? pauseBinMissing();
if (skipReason !== null) console.log(`skipping image end-to-end test: ${skipReason}`);

describe.skipIf(skipReason !== null)('images end to end: mirror → apply images → real agent → real containerd', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let ctl: TestController;
  let containerd: TestContainerd | undefined;
  const socketDir = `/run/containerd/ballast-e2e-${process.pid}`;
  const socket = `${socketDir}/containerd.sock`;
  let createdDir: string | undefined;
  let runDirExisted = true;
  let id: string;
  const ctr = (...a: string[]) => {
    if (containerd === undefined) throw new Error('containerd is not running');
    return containerd.ctr(...a);
  };

  beforeAll(async () => {
    requireBuild();
    createdDir = CREATED.find((d) => !existsSync(d));
    runDirExisted = existsSync('/run/containerd');
    dir = await tempDir('image-e2e');
    // containerd with everything of its own: data in the temp dir, the socket in a fresh directory.
    containerd = await startContainerd({ dir: join(dir.path, 'containerd'), socket });

    const built = await buildImageArchive({ ref: REF, arch: 'amd64', files: [{ src: PAUSE_BIN, dest: '/pause', mode: 0o755 }], entrypoint: ['/pause'], user: '65535:65535', out: join(dir.path, 'pause.tar') });
    id = built.id;
    const bundle = join(dir.path, 'bundle.tar');
    await writeBundle({ out: bundle, entries: [{ name: 'image-pause', version: KUBE_1_36_PAUSE_TAG, file: `images/pause_${KUBE_1_36_PAUSE_TAG}.tar`, content: await readFile(join(dir.path, 'pause.tar')), image: { ref: REF, id } }] });

    ctl = new TestController(join(dir.path, 'controller'));
    await ctl.start();
    // Images are not in the built-in catalogue: an admin (the test's admin.conf) imports a signed bundle (writeBundle signs with the test key).
    const imported = await ctl.ctl(['artifacts', 'import', bundle]);
    expect(imported.code, imported.stderr).toBe(0);
    const token = await createToken(ctl);
    const dataDir = join(dir.path, 'agent');
    const joined = await joinAgent({ server: ctl.url, token: token.token, caHash: token.caHash, name: 'img-1', dataDir });
    expect(joined.code, joined.stderr).toBe(0);
    runAgent(dataDir);
    await waitFor('agent connected with facts', async () => {
      const r = await ctl.api<{ host: { connected: boolean }; facts: unknown }>('/v1/hosts/img-1');
      return r.body.host?.connected === true && r.body.facts !== null ? true : undefined;
    });
    await writeFile(join(dir.path, 'vars.yaml'), `socket: ${socket}\nctr: /usr/bin/ctr\n`);
  }, 120_000);

  afterAll(async () => {
    await stopAll();
    await containerd?.stop();
    await rm(socketDir, { recursive: true, force: true });
    if (!runDirExisted) await rm('/run/containerd', { recursive: true, force: true });
    if (createdDir !== undefined) await rm(createdDir, { recursive: true, force: true });
    await dir?.cleanup();
  }, 30_000);

  const apply = (...extra: string[]) => ctl.ctlJson<RunDocument>(['apply', 'images', '--hosts', 'img-1', '--vars', join(dir.path, 'vars.yaml'), ...extra]);

  it('check mode says it would import the mirror\'s pause and imports nothing', async () => {
    const doc = await apply('--check');
    expect(doc).toMatchObject({ status: 'succeeded', recap: { changed: 1, failed: 0 } });
    expect(doc.hosts[0]?.results[0]).toMatchObject({ name: `Import image ${REF}`, status: 'changed', message: expect.stringContaining('would import') });
    expect((await ctr('images', 'check', `name==${REF}`)).stdout).toBe('');
  });

  it('imports the image over mTLS into containerd with the pinned ID, then changes nothing', async () => {
    const first = await apply();
    expect(first, JSON.stringify(first.hosts[0]?.results)).toMatchObject({ status: 'succeeded', recap: { changed: 1, failed: 0 } });
    const { stdout } = await ctr('images', 'check', `name==${REF}`);
    const digest = stdout.split('\n')[1]?.split(/\s+/)[2] ?? '';
    expect((JSON.parse((await ctr('content', 'get', digest)).stdout) as { config: { digest: string } }).config.digest).toBe(id);
    const second = await apply();
    expect(second).toMatchObject({ status: 'succeeded', recap: { ok: 1, changed: 0, failed: 0 } });
    // The download went through the agent's work directory and is gone.
    expect(existsSync(WORK_DIR) ? (await run('ls', ['-A', WORK_DIR])).stdout.split('\n').filter((f) => f.includes('image-pause')) : []).toEqual([]);
  });
});
