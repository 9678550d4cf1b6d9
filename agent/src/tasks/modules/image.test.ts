/**
 * The `image` module against a hand-written fake of `ctr` (an ExecPort that keeps an image store
 * and imports archives by reading their manifest.json, as containerd does) and a real unix socket
 * standing for containerd's. The real containerd is in test/integration/image-import.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readUstarMember, readUstarMembers, USTAR_END, ustarHeader, ustarPadding } from '../../../../shared/src/ustar.js';
import { buildImageArchive } from '../../../../test/support/kube-images.js';
import type { ExecResult } from '../../host/ports.js';
import type { ArtifactRef, ArtifactSource } from '../module.js';
import { createModuleRegistry } from '../registry.js';
import { fakeExec, makeTempRoot, rejection, testContext } from '../testing.js';
import { ARTIFACT_WORK_DIR } from './artifact.js';
import { createImageModule } from './image.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const REF = 'registry.k8s.io/pause:3.10.2';
const ok = (stdout: string): ExecResult => ({ code: 0, stdout, stderr: '' });

/** containerd's image store as `ctr` shows it: ref → manifest digest; digest → blob. */
class FakeCtr {
  readonly images = new Map<string, { digest: string; type: string }>();
  readonly blobs = new Map<string, string>();
  imports = 0;
  unreachable = false;
  readonly exec = fakeExec(async (argv) => {
    if (this.unreachable) return { code: 1, stdout: '', stderr: 'ctr: failed to dial "/run/containerd/containerd.sock": connection refused' };
    const args = argv.slice(argv.indexOf('k8s.io') + 1);
    if (args[0] === 'images' && args[1] === 'check') {
      const ref = (args[2] ?? '').replace(/^name==/, '');
      const img = this.images.get(ref);
      const header = 'REF TYPE DIGEST STATUS SIZE UNPACKED\n';
      return ok(img === undefined ? '' : `${header}${ref} ${img.type} ${img.digest} complete (2/2) 1.4 MiB/1.4 MiB true\n`);
    }
    if (args[0] === 'content' && args[1] === 'get') {
      const blob = this.blobs.get(args[2] ?? '');
      return blob === undefined ? { code: 1, stdout: '', stderr: `ctr: content digest ${args[2]}: not found` } : ok(blob);
    }
    if (args[0] === 'images' && args[1] === 'import') {
      this.imports++;
      const file = args[4] ?? '';
      const members = await readUstarMembers(file, { what: 'fake import' });
      const get = (name: string) => readUstarMember(file, members.find((m) => m.name === name)!, 1 << 20, 'fake import');
      const [entry] = JSON.parse((await get('manifest.json')).toString()) as { Config: string; RepoTags: string[] }[];
      this.put(entry!.RepoTags[0]!, `sha256:${sha(await get(entry!.Config))}`);
      return ok(`unpacking ${entry!.RepoTags[0]}...done\n`);
    }
    return { code: 1, stdout: '', stderr: `fake ctr: unexpected ${args.join(' ')}` };
  });

  /** Stores `ref` as a docker manifest whose config is `id`. */
  put(ref: string, id: string): void {
    const manifest = JSON.stringify({ schemaVersion: 2, config: { digest: id, size: 1 }, layers: [] });
    const digest = `sha256:${sha(Buffer.from(manifest))}`;
    this.blobs.set(digest, manifest);
    this.images.set(ref, { digest, type: 'application/vnd.docker.distribution.manifest.v2+json' });
  }
}

/** Serves one archive, counting downloads. */
class Source implements ArtifactSource {
  opened = 0;
  constructor(public data: Buffer) {}
  async open(_ref: ArtifactRef) {
    this.opened++;
    return { stream: Readable.from([this.data]), size: this.data.length };
  }
}

let fixtures: string;
let archive: Buffer;
let id: string;
beforeAll(async () => {
  fixtures = await mkdtemp(join(tmpdir(), 'ballast-image-fixture-'));
  await writeFile(join(fixtures, 'pause'), Buffer.alloc(3000, 7));
  const built = await buildImageArchive({ ref: REF, arch: 'amd64', files: [{ src: join(fixtures, 'pause'), dest: '/pause', mode: 0o755 }], entrypoint: ['/pause'], out: join(fixtures, 'pause.tar') });
  archive = await readFile(join(fixtures, 'pause.tar'));
  id = built.id;
});
afterAll(() => rm(fixtures, { recursive: true, force: true }));

let root: string;
let socket: Server;
let ctr: FakeCtr;
let source: Source;
beforeEach(async () => {
  root = await makeTempRoot();
  await mkdir(join(root, 'run/containerd'), { recursive: true });
  socket = createServer();
  await new Promise<void>((resolve) => socket.listen(join(root, 'run/containerd/containerd.sock'), resolve));
  ctr = new FakeCtr();
  source = new Source(archive);
});
afterEach(async () => {
  await new Promise((resolve) => socket.close(resolve));
  await rm(root, { recursive: true, force: true });
});

const registry = createModuleRegistry([createImageModule({ maxBytes: 1 << 20 })]);
const args = (over: Record<string, unknown> = {}) => ({ name: 'image-pause', version: '3.10.2', arch: 'amd64', sha256: sha(archive), ref: REF, id, ...over });
const ctx = (check = false) => testContext(root, { check, exec: ctr.exec, artifacts: source });

describe('image module', () => {
  it('imports an absent image through ctr at the socket under the root, then is unchanged without downloading', async () => {
    const first = await registry.run('image', args(), ctx());
    expect(first).toMatchObject({ changed: true, message: expect.stringContaining(`imported ${REF}`), diff: `${REF}: (absent) → ${id}\n` });
    const importCall = ctr.exec.calls.find((c) => c.includes('import'))!;
    expect(importCall.slice(0, 7)).toEqual(['/usr/local/bin/ctr', '--address', join(root, 'run/containerd/containerd.sock'), '--connect-timeout', '5s', '--namespace', 'k8s.io']);
    expect(importCall.slice(7, 11)).toEqual(['images', 'import', '--platform', 'linux/amd64']);
    // The work file is gone.
    expect(await readdir(join(root, ARTIFACT_WORK_DIR))).toEqual([]);
    const second = await registry.run('image', args({ ctr: '/usr/bin/ctr' }), ctx());
    expect(second).toEqual({ changed: false, message: `${REF} is present (${id.slice(0, 19)}…)` });
    expect([source.opened, ctr.imports]).toEqual([1, 1]);
    expect(ctr.exec.calls.at(-1)?.[0]).toBe('/usr/bin/ctr');
  });

  it('download-ahead: needed when absent or while containerd is not running yet (an earlier task starts it), not when present', async () => {
    const want = { name: 'image-pause', version: '3.10.2', arch: 'amd64', sha256: sha(archive), maxBytes: 1 << 20 };
    expect(await registry.prefetch?.('image', args(), ctx())).toEqual(want);
    ctr.put(REF, id);
    expect(await registry.prefetch?.('image', args(), ctx())).toBeNull();
    await new Promise((resolve) => socket.close(resolve));
    await rm(join(root, 'run/containerd/containerd.sock'), { force: true });
    socket = createServer();
    expect(await registry.prefetch?.('image', args(), ctx())).toEqual(want);
  });

  it('re-points a reference that holds another image', async () => {
    ctr.put(REF, `sha256:${'1'.repeat(64)}`);
    const out = await registry.run('image', args(), ctx());
    expect(out.message).toContain(`replacing sha256:${'1'.repeat(11)}`);
    expect(ctr.images.size).toBe(1);
  });

  it('follows an index to the linux/<arch> manifest when reading what is present', async () => {
    ctr.put(REF, id);
    const manifestDigest = ctr.images.get(REF)!.digest;
    const index = JSON.stringify({ schemaVersion: 2, manifests: [{ digest: `sha256:${'2'.repeat(64)}`, platform: { os: 'linux', architecture: 'arm64' } }, { digest: manifestDigest, platform: { os: 'linux', architecture: 'amd64' } }] });
    const indexDigest = `sha256:${sha(Buffer.from(index))}`;
    ctr.blobs.set(indexDigest, index);
    ctr.images.set(REF, { digest: indexDigest, type: 'application/vnd.oci.image.index.v1+json' });
    expect(await registry.run('image', args(), ctx())).toMatchObject({ changed: false });
    expect(source.opened).toBe(0);
  });

  it('check mode reports the import and touches nothing; without containerd it still reports', async () => {
    expect(await registry.run('image', args(), ctx(true))).toMatchObject({ changed: true, message: expect.stringContaining('would import') });
    expect([source.opened, ctr.imports]).toEqual([0, 0]);
    await new Promise((resolve) => socket.close(resolve));
    await rm(join(root, 'run/containerd/containerd.sock'), { force: true });
    expect(await registry.run('image', args(), ctx(true))).toMatchObject({ changed: true, message: expect.stringContaining('containerd is not running yet') });
    expect(ctr.exec.calls.filter((c) => c.includes('import'))).toEqual([]);
  });

  it('fails with a coded error when containerd is not running or does not answer', async () => {
    await new Promise((resolve) => socket.close(resolve));
    await rm(join(root, 'run/containerd/containerd.sock'), { force: true });
    const err = await rejection(registry.run('image', args(), ctx()));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_CONTAINERD_UNAVAILABLE', message: expect.stringContaining('/run/containerd/containerd.sock') });
    socket = createServer();
    await new Promise<void>((resolve) => socket.listen(join(root, 'run/containerd/containerd.sock'), resolve));
    ctr.unreachable = true;
    expect(await rejection(registry.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_CONTAINERD_UNAVAILABLE' });
    expect(source.opened).toBe(0);
  });

  it('refuses a download that does not match its sha256, or is larger than the bound, before ctr sees it', async () => {
    source.data = Buffer.concat([archive.subarray(0, 100), Buffer.from('x'), archive.subarray(101)]);
    expect(await rejection(registry.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_CHECKSUM_MISMATCH' });
    const small = createModuleRegistry([createImageModule({ maxBytes: 1000 })]);
    source.data = archive;
    expect(await rejection(small.run('image', args(), ctx()))).toMatchObject({ code: 'BALLAST_ERR_TOO_LARGE' });
    expect(ctr.imports).toBe(0);
    expect(await readdir(join(root, ARTIFACT_WORK_DIR))).toEqual([]);
  });

  it('refuses an archive whose image ID, tag or platform is not the task’s', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ id: `sha256:${'3'.repeat(64)}` }, /image ID \(config digest\) is sha256:/],
      [{ ref: 'registry.k8s.io/pause:3.9', version: '3.9' }, /tagged \["registry.k8s.io\/pause:3.10.2"\]/],
      [{ arch: 'arm64' }, /linux\/amd64, the task expects linux\/arm64/],
    ];
    for (const [over, why] of cases) {
      const err = await rejection(registry.run('image', args(over), ctx()));
      expect(err).toMatchObject({ code: 'BALLAST_ERR_IMAGE_MISMATCH', message: expect.stringMatching(why) });
    }
    expect(ctr.imports).toBe(0);
  });

  it('refuses an OCI layout and non-plain tar members, which ctr would read differently', async () => {
    const tar = (members: { name: string; data: Buffer; flag?: string }[]) => {
      const parts: Buffer[] = [];
      for (const m of members) {
        const h = ustarHeader({ name: m.name, type: 'file', mode: 0o644, size: m.data.length });
        if (m.flag !== undefined) {
          h.write(m.flag, 156, 1, 'ascii');
          h.fill(0x20, 148, 156);
          h.write(`${h.reduce((s, b) => s + b, 0).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
        }
        parts.push(h, m.data, ustarPadding(m.data.length));
      }
      return Buffer.concat([...parts, USTAR_END]);
    };
    const manifest = Buffer.from(JSON.stringify([{ Config: 'c.json', RepoTags: [REF], Layers: [] }]));
    for (const [bytes, code] of [
      [tar([{ name: 'index.json', data: Buffer.from('{}') }, { name: 'manifest.json', data: manifest }]), 'BALLAST_ERR_IMAGE_MISMATCH'],
      [tar([{ name: 'PaxHeaders/x', data: Buffer.from('30 path=index.json\n'), flag: 'x' }, { name: 'manifest.json', data: manifest }]), 'BALLAST_ERR_VALIDATION'],
      [tar([{ name: '../manifest.json', data: manifest }]), 'BALLAST_ERR_VALIDATION'],
      [archive.subarray(0, 1000), 'BALLAST_ERR_VALIDATION'],
    ] as const) {
      source.data = bytes;
      expect(await rejection(registry.run('image', args({ sha256: sha(bytes) }), ctx()))).toMatchObject({ code });
    }
    expect(ctr.imports).toBe(0);
  });

  it('refuses a containerd address outside /run/containerd and a ctr outside the allow-list', async () => {
    for (const address of ['/tmp/evil.sock', '/run/containerd/../docker.sock', '/run/containerd']) {
      expect(await rejection(registry.run('image', args({ address }), ctx()))).toMatchObject({ code: expect.stringMatching(/UNSAFE_PATH|PATH_OUTSIDE_ROOT/) });
    }
    expect(await rejection(registry.run('image', args({ ctr: '/tmp/ctr' }), ctx()))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/ctr' });
    expect(await rejection(registry.run('image', args({ ref: 'pause:3.10.2' }), ctx()))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/ref' });
    expect(ctr.exec.calls).toEqual([]);
  });
});
