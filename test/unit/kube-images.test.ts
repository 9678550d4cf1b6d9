/**
 * The lab's image builder (test/support/kube-images.ts): same binaries ⇒ byte-identical archives
 * (so the pinned sha256 and image ID hold), and archives that GNU tar and our ustar reader agree on,
 * with the docker-archive structure `ctr images import` takes.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactSpecSchema } from '../../shared/src/artifacts-api.js';
import { imageEntryProblem } from '../../shared/src/images.js';
import { kubeadmImages } from '../../shared/src/kube-images.js';
import { readUstarMember, readUstarMembers } from '../../shared/src/ustar.js';
import { buildImageArchive, buildKubeImages } from '../support/kube-images.js';

const run = promisify(execFile);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const checkSpec = TypeCompiler.Compile(ArtifactSpecSchema);

let dir: string;
let bin: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-images-'));
  bin = join(dir, 'bin');
  await mkdir(bin);
  // Stand-in "binaries": the builder only copies bytes. Sizes straddle block boundaries on purpose.
  for (const [i, name] of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'pause'].entries()) {
    await writeFile(join(bin, name), Buffer.alloc(1000 + i * 512 + i, i + 1));
    await chmod(join(bin, name), 0o755);
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('buildImageArchive', () => {
  it('gives byte-identical archives for the same input, whatever the file order, and another ID for other bytes', async () => {
    const files = [
      { src: join(bin, 'pause'), dest: '/pause', mode: 0o755 },
      { src: join(bin, 'kube-scheduler'), dest: '/usr/local/bin/kube-scheduler', mode: 0o755 },
    ];
    const opts = { ref: 'registry.k8s.io/pause:3.10.2', arch: 'amd64', entrypoint: ['/pause'], user: '65535:65535' };
    const a = await buildImageArchive({ ...opts, files, out: join(dir, 'a/pause.tar') });
    const b = await buildImageArchive({ ...opts, files: [...files].reverse(), out: join(dir, 'b/pause.tar') });
    expect(b).toEqual(a);
    const bytes = await readFile(join(dir, 'a/pause.tar'));
    expect(Buffer.compare(bytes, await readFile(join(dir, 'b/pause.tar')))).toBe(0);
    expect(a.sha256).toBe(sha(bytes));
    expect(a.size).toBe(bytes.length);
    const other = await buildImageArchive({ ...opts, files: files.slice(0, 1), out: join(dir, 'c/pause.tar') });
    expect(other.id).not.toBe(a.id);
    expect(other.sha256).not.toBe(a.sha256);
  });

  it('writes the docker-archive layout: manifest.json → config (digest = image ID) → one layer whose digest is the diff_id', async () => {
    const out = join(dir, 'layout/pause.tar');
    const built = await buildImageArchive({ ref: 'registry.k8s.io/pause:3.10.2', arch: 'amd64', files: [{ src: join(bin, 'pause'), dest: '/pause', mode: 0o755 }], entrypoint: ['/pause'], user: '65535:65535', out });
    const what = 'test archive';
    const members = await readUstarMembers(out, { what });
    const byName = new Map(members.map((m) => [m.name, m]));
    const manifest = JSON.parse((await readUstarMember(out, byName.get('manifest.json')!, 1 << 20, what)).toString()) as { Config: string; RepoTags: string[]; Layers: string[] }[];
    expect(manifest).toHaveLength(1);
    expect(manifest[0]!.RepoTags).toEqual(['registry.k8s.io/pause:3.10.2']);
    const config = await readUstarMember(out, byName.get(manifest[0]!.Config)!, 1 << 20, what);
    expect(`sha256:${sha(config)}`).toBe(built.id);
    expect(manifest[0]!.Config).toBe(`${built.id.slice(7)}.json`);
    const parsed = JSON.parse(config.toString()) as { architecture: string; os: string; config: { Entrypoint: string[]; User: string }; rootfs: { diff_ids: string[] } };
    expect(parsed).toMatchObject({ architecture: 'amd64', os: 'linux', config: { Entrypoint: ['/pause'], User: '65535:65535' } });
    const layer = await readUstarMember(out, byName.get(manifest[0]!.Layers[0]!)!, 1 << 20, what);
    expect(parsed.rootfs.diff_ids).toEqual([`sha256:${sha(layer)}`]);
    expect(members.map((m) => m.name)).toEqual([...members.map((m) => m.name)].sort());

    // GNU tar reads both levels the same way, with root ownership, mtime 0 and the modes we set.
    const outer = (await run('tar', ['-tvf', out])).stdout;
    expect(outer).toContain('manifest.json');
    const layerPath = join(dir, 'layout/layer.tar');
    await writeFile(layerPath, layer);
    const listing = (await run('tar', ['--numeric-owner', '-tvf', layerPath])).stdout.trim().split('\n');
    expect(listing.map((l) => l.split(/\s+/).slice(-1)[0])).toEqual(['etc/', 'etc/group', 'etc/passwd', 'pause', 'tmp/']);
    expect(listing.find((l) => l.endsWith(' pause'))).toMatch(/^-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 pause$/);
    expect(listing.find((l) => l.endsWith(' tmp/'))).toMatch(/^drwxrwxrwt 0\/0 /);
    const unpacked = join(dir, 'layout/unpacked');
    await mkdir(unpacked);
    await run('tar', ['-xf', layerPath, '-C', unpacked]);
    expect(await readFile(join(unpacked, 'pause'))).toEqual(await readFile(join(bin, 'pause')));
    expect(await readFile(join(unpacked, 'etc/passwd'), 'utf8')).toBe('root:x:0:0:root:/:/nonexistent\n');
  });

  it('refuses a reference without a registry and tag', async () => {
    await expect(buildImageArchive({ ref: 'pause', arch: 'amd64', files: [], entrypoint: ['/pause'], out: join(dir, 'x.tar') })).rejects.toThrow(/registry\/repository:tag/);
  });
});

describe('buildKubeImages', () => {
  it('builds the images kubeadm names with their tags, as valid artifact entries; kube-proxy only when its binary is there', async () => {
    const first = await buildKubeImages({ binDir: bin, outDir: join(dir, 'bundle1'), kubernetesVersion: '1.36.3' });
    expect(first.map((e) => [e.name, e.version, e.image.ref, e.file])).toEqual([
      ['image-kube-apiserver', 'v1.36.3', 'registry.k8s.io/kube-apiserver:v1.36.3', 'images/kube-apiserver_v1.36.3.tar'],
      ['image-kube-controller-manager', 'v1.36.3', 'registry.k8s.io/kube-controller-manager:v1.36.3', 'images/kube-controller-manager_v1.36.3.tar'],
      ['image-kube-scheduler', 'v1.36.3', 'registry.k8s.io/kube-scheduler:v1.36.3', 'images/kube-scheduler_v1.36.3.tar'],
      ['image-pause', '3.10.2', 'registry.k8s.io/pause:3.10.2', 'images/pause_3.10.2.tar'],
    ]);
    for (const e of first) {
      expect(checkSpec.Check(e), JSON.stringify([...checkSpec.Errors(e)][0])).toBe(true);
      expect(imageEntryProblem(e)).toBeNull();
      const bytes = await readFile(join(dir, 'bundle1', e.file));
      expect([sha(bytes), bytes.length]).toEqual([e.sha256, e.size]);
    }
    await writeFile(join(bin, 'kube-proxy'), Buffer.from('proxy'));
    const second = await buildKubeImages({ binDir: bin, outDir: join(dir, 'bundle2'), kubernetesVersion: 'v1.36.3' });
    expect(second.map((e) => e.name)).toEqual(['image-kube-apiserver', 'image-kube-controller-manager', 'image-kube-scheduler', 'image-kube-proxy', 'image-pause']);
    // Exactly the references kubeadm names (CoreDNS aside: no binary of ours).
    expect(second.map((e) => e.image.ref)).toEqual(kubeadmImages('1.36.3')?.filter((r) => !r.includes('coredns')));
    // Rebuilt elsewhere, the same binaries give the same pins.
    const pins = (list: typeof first) => list.map((e) => `${e.name} ${e.sha256} ${e.image.id}`);
    expect(pins(second.filter((e) => e.name !== 'image-kube-proxy'))).toEqual(pins(first));
  });
});
