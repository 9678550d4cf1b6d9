/**
 * Test bundles for the artifact mirror.
 *
 * - `writeBundle` packs small synthetic bundles (unit tests: good, corrupted, malformed).
 * - `debianTestBundle` builds the offline bundle the integration and lab tests install: Debian
 *   bookworm's real etcd, etcdctl, containerd, containerd-shim-runc-v2, ctr and runc binaries
 *   (`apt-get download` + `dpkg-deb -x`, nothing is installed on this machine), repacked in the
 *   upstream release layouts, with their real sha256s. It is cached, keyed by the package versions,
 *   so only the first run pays for the download and the gzip.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { ArtifactSpec } from '../../shared/src/artifacts-api.js';

const run = promisify(execFile);

/** One file of a synthetic bundle. `sha256` overrides the real hash (to build a corrupted bundle). */
export interface BundleEntry {
  name: string;
  version: string;
  os?: string;
  arch?: string;
  url?: string;
  /** Path inside the bundle. */
  file: string;
  content: Buffer;
  sha256?: string;
}

/** sha256 hex of a buffer. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/**
 * Writes a bundle tarball at `out` (gzip'd when `gzip`) with a manifest.yaml describing `entries`,
 * plus `extra` files that the manifest does not mention. Returns the manifest.
 */
export async function writeBundle(opts: {
  out: string;
  entries: BundleEntry[];
  gzip?: boolean;
  extra?: { path: string; content: Buffer }[];
  /** Replaces the generated manifest text (malformed-manifest tests). */
  manifestText?: string;
}): Promise<ArtifactSpec[]> {
  const dir = await mkdtemp(join(tmpdir(), 'ballast-bundle-'));
  try {
    const manifest: ArtifactSpec[] = opts.entries.map((e) => ({
      name: e.name,
      version: e.version,
      os: e.os ?? 'linux',
      arch: e.arch ?? 'amd64',
      sha256: e.sha256 ?? sha256(e.content),
      url: e.url ?? `https://example.invalid/${e.name}/${e.version}/${e.file.split('/').pop()}`,
      file: e.file,
    }));
    const files = [...opts.entries.map((e) => ({ path: e.file, content: e.content })), ...(opts.extra ?? [])];
    for (const f of files) {
      await mkdir(dirname(join(dir, f.path)), { recursive: true });
      await writeFile(join(dir, f.path), f.content);
    }
    await writeFile(join(dir, 'manifest.yaml'), opts.manifestText ?? stringify(manifest));
    await run('tar', [opts.gzip === true ? '-czf' : '-cf', opts.out, '-C', dir, 'manifest.yaml', ...files.map((f) => f.path)]);
    return manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The cached Debian test bundle. */
export interface DebianTestBundle {
  /** bundle.tar: manifest.yaml + the three artifacts. */
  path: string;
  manifest: ArtifactSpec[];
  /** Debian package → version the binaries came from. */
  packages: Record<string, string>;
}

const PACKAGES = ['etcd-server', 'etcd-client', 'containerd', 'runc'] as const;
/** Bump when the layout below changes, so stale caches are not reused. */
const LAYOUT_VERSION = 1;
const DEBIAN_MIRROR = 'http://deb.debian.org/debian';

/** The cache dir: $BALLAST_TEST_CACHE, else the lab's cache if writable, else a dir under tmp. */
export function testCacheDir(): string {
  if (process.env.BALLAST_TEST_CACHE) return process.env.BALLAST_TEST_CACHE;
  const lab = process.env.BALLAST_LAB_CACHE ?? '/var/cache/ballast-lab';
  try {
    if (!existsSync(lab)) return join(tmpdir(), 'ballast-test-cache');
    accessSync(lab, constants.W_OK);
    return lab;
  } catch {
    return join(tmpdir(), 'ballast-test-cache');
  }
}

/** "1.6.20~ds1-1+deb12u3" → "1.6.20": the upstream version inside a Debian version. */
export function upstreamVersion(debianVersion: string): string {
  const noEpoch = debianVersion.replace(/^\d+:/, '');
  return noEpoch.split(/[-~+]/)[0] ?? noEpoch;
}

async function packageInfo(pkg: string): Promise<{ version: string; filename: string }> {
  const { stdout } = await run('apt-cache', ['show', '--no-all-versions', pkg]);
  const version = /^Version: (.+)$/m.exec(stdout)?.[1];
  const filename = /^Filename: (.+)$/m.exec(stdout)?.[1];
  if (version === undefined || filename === undefined) throw new Error(`apt-cache show ${pkg}: no Version/Filename (run apt-get update?)`);
  return { version, filename };
}

/**
 * Returns the Debian test bundle, building it on first use (about 40 MB of .debs downloaded once).
 * Needs apt-get and dpkg-deb; installs nothing.
 */
export async function debianTestBundle(opts: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<DebianTestBundle> {
  const info = Object.fromEntries(await Promise.all(PACKAGES.map(async (p) => [p, await packageInfo(p)] as const)));
  const packages = Object.fromEntries(PACKAGES.map((p) => [p, info[p]!.version]));
  const key = sha256(JSON.stringify({ packages, layout: LAYOUT_VERSION })).slice(0, 16);
  const cacheDir = opts.cacheDir ?? testCacheDir();
  const final = join(cacheDir, `test-bundle-${key}`);
  if (!existsSync(join(final, 'manifest.json'))) {
    opts.log?.(`building the Debian test bundle in ${final}`);
    await mkdir(cacheDir, { recursive: true });
    const work = await mkdtemp(join(cacheDir, '.test-bundle-'));
    try {
      await buildDebianBundle(work, info);
      // Another run may have finished first: theirs is as good as ours.
      if (!existsSync(join(final, 'manifest.json'))) await rename(join(work, 'out'), final);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const manifest = JSON.parse(await readFile(join(final, 'manifest.json'), 'utf8')) as ArtifactSpec[];
  return { path: join(final, 'bundle.tar'), manifest, packages };
}

async function buildDebianBundle(work: string, info: Record<string, { version: string; filename: string }>): Promise<void> {
  const debs = join(work, 'debs');
  const root = join(work, 'root');
  const stage = join(work, 'stage');
  const out = join(work, 'out');
  for (const d of [debs, root, stage, out]) await mkdir(d, { recursive: true });
  await run('apt-get', ['download', ...PACKAGES], { cwd: debs, maxBuffer: 16 * 1024 * 1024 });
  for (const deb of await readdir(debs)) {
    if (deb.endsWith('.deb')) await run('dpkg-deb', ['-x', join(debs, deb), root]);
  }
  const bin = (rel: string) => join(root, rel);
  const etcdV = upstreamVersion(info['etcd-server']!.version);
  const ctrdV = upstreamVersion(info.containerd!.version);
  const runcV = upstreamVersion(info.runc!.version);

  // etcd-vX-linux-amd64/{etcd,etcdctl}, as etcd's release tarball.
  const etcdDir = `etcd-v${etcdV}-linux-amd64`;
  await placeBinaries(join(stage, etcdDir), [bin('usr/bin/etcd'), bin('usr/bin/etcdctl')]);
  const etcdTar = `${etcdDir}.tar.gz`;
  await run('tar', ['-czf', join(stage, etcdTar), '-C', stage, '--owner=0', '--group=0', etcdDir]);

  // containerd-X-linux-amd64.tar.gz with bin/{containerd,containerd-shim-runc-v2,ctr}.
  const ctrdStage = join(stage, 'containerd');
  await placeBinaries(join(ctrdStage, 'bin'), ['containerd', 'containerd-shim-runc-v2', 'ctr'].map((b) => bin(`usr/bin/${b}`)));
  const ctrdTar = `containerd-${ctrdV}-linux-amd64.tar.gz`;
  await run('tar', ['-czf', join(stage, ctrdTar), '-C', ctrdStage, '--owner=0', '--group=0', 'bin']);

  // runc.amd64: a single binary, as runc releases it.
  await copyFile(bin('usr/sbin/runc'), join(stage, 'runc.amd64'));
  await chmod(join(stage, 'runc.amd64'), 0o755);

  const pool = (pkg: string) => `${DEBIAN_MIRROR}/${info[pkg]!.filename}`;
  const manifest: ArtifactSpec[] = [];
  const add = async (name: string, version: string, file: string, url: string) =>
    manifest.push({ name, version, os: 'linux', arch: 'amd64', sha256: sha256(await readFile(join(stage, file))), url, file });
  await add('etcd', etcdV, etcdTar, pool('etcd-server'));
  await add('containerd', ctrdV, ctrdTar, pool('containerd'));
  await add('runc', runcV, 'runc.amd64', pool('runc'));
  await writeFile(join(stage, 'manifest.yaml'), `# Debian bookworm binaries repacked in upstream layouts (ballast test bundle).\n${stringify(manifest)}`);
  await run('tar', ['-cf', join(out, 'bundle.tar'), '-C', stage, '--owner=0', '--group=0', 'manifest.yaml', etcdTar, ctrdTar, 'runc.amd64']);
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
}

async function placeBinaries(dir: string, sources: string[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const src of sources) {
    const dest = join(dir, src.split('/').pop()!);
    await copyFile(src, dest);
    await chmod(dest, 0o755);
  }
}
