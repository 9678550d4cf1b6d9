/**
 * Test bundles for the artifact mirror.
 *
 * - `writeBundle` packs small synthetic bundles (unit tests: good, corrupted, malformed).
 * - `debianTestBundle` builds the offline bundle the integration and lab tests install: Debian
 *   bookworm's real etcd, etcdctl, containerd, containerd-shim-runc-v2, ctr and runc binaries
 *   (`apt-get download` + `dpkg-deb -x`, nothing is installed on this machine), repacked in the
 *   upstream release layouts, with their real sha256s. It is cached, keyed by the package versions,
 *   so only the first run pays for the download and the gzip.
 * - With `kubeStandins: true` it also carries kubelet, kubeadm and kubectl 1.36.3+ballast.standin
 *   (raw files named like upstream's downloads) and crictl 1.36.0+ballast.standin
 *   (crictl-vX-linux-amd64.tar.gz with `crictl` inside, as upstream packs it): Ballast's recording
 *   stand-ins from test/support/standin, because the real binaries cannot run on the machines these
 *   tests run on. Their manifest URLs point at
 *   https://ballast.invalid/standin/… (a reserved name that never resolves) and the manifest's
 *   header says so. This variant is cached separately, keyed by the Debian bundle's key and the
 *   stand-ins' sha256s and versions, and built from the cached Debian bundle (no download).
 * - Every bundle built here carries `manifest.yaml.sig`, signed with the TEST-ONLY key pair in
 *   testdata/ (published: never trust it outside tests). The controllers the integration and lab
 *   tests start trust its public key (`--artifact-trust-key`), so an admin can import these bundles;
 *   `writeBundle({ sign: false })` makes an unsigned one.
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
import { BUNDLE_SIGNATURE, keyId, parsePrivateKey, parsePublicKey, signManifest, type TrustKey } from '../../shared/src/artifacts-signature.js';
import { DEFAULT_CNI_PLUGINS } from '../../controller/src/roles/containerd.js';

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
  /** For container images (shared/src/images.ts). */
  image?: { ref: string; id: string };
}

/** sha256 hex of a buffer. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Where the test-only key pair is (in the source tree, also when this runs from dist/); see testdata/README.md. */
const TESTDATA_DIR = join(import.meta.dirname.replace(/\/dist\/test\/support$/, '/test/support'), 'testdata');
/**
 * The TEST-ONLY signing key (published in this repository: anyone can sign with it). Every bundle
 * the test support builds is signed with it unless a test says otherwise.
 */
export const TEST_SIGNING_KEY = join(TESTDATA_DIR, 'TEST-ONLY-artifact-signing.key');
/** Its public key: what test controllers get as `--artifact-trust-key`. */
export const TEST_TRUST_KEY = join(TESTDATA_DIR, 'TEST-ONLY-artifact-signing.pub');

/** The test-only public key as the controller loads it, for in-process tests. */
export async function testTrustKeys(): Promise<TrustKey[]> {
  const parsed = parsePublicKey(await readFile(TEST_TRUST_KEY));
  if ('problem' in parsed) throw new Error(`${TEST_TRUST_KEY} ${parsed.problem}`);
  return [{ id: keyId(parsed.key), key: parsed.key, source: TEST_TRUST_KEY }];
}

/** The text of `manifest.yaml.sig` for `manifest`, signed with the private key file `keyFile`. */
export async function testSignature(manifest: string | Buffer, keyFile = TEST_SIGNING_KEY): Promise<string> {
  const parsed = parsePrivateKey(await readFile(keyFile));
  if ('problem' in parsed) throw new Error(`${keyFile} ${parsed.problem}`);
  return signManifest(Buffer.from(manifest), parsed.key);
}

/** Writes `<dir>/manifest.yaml.sig` for `<dir>/manifest.yaml`, signed with the private key file `keyFile`. */
export async function writeSignature(dir: string, keyFile = TEST_SIGNING_KEY): Promise<void> {
  await writeFile(join(dir, BUNDLE_SIGNATURE), await testSignature(await readFile(join(dir, 'manifest.yaml')), keyFile));
}

/**
 * Writes a bundle tarball at `out` (gzip'd when `gzip`) with a manifest.yaml describing `entries`,
 * plus `extra` files that the manifest does not mention, and manifest.yaml.sig signed with the
 * test-only key (`sign`: another key file, or false for an unsigned bundle). Returns the manifest.
 */
export async function writeBundle(opts: {
  out: string;
  entries: BundleEntry[];
  gzip?: boolean;
  extra?: { path: string; content: Buffer }[];
  /** Replaces the generated manifest text (malformed-manifest tests). */
  manifestText?: string;
  /** Private key file to sign with (default {@link TEST_SIGNING_KEY}); false: no signature. */
  sign?: string | false;
  /** Replaces the signature file's text (forged-signature tests). */
  signatureText?: string;
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
      ...(e.image === undefined ? {} : { image: e.image }),
    }));
    const files = [...opts.entries.map((e) => ({ path: e.file, content: e.content })), ...(opts.extra ?? [])];
    for (const f of files) {
      await mkdir(dirname(join(dir, f.path)), { recursive: true });
      await writeFile(join(dir, f.path), f.content);
    }
    await writeFile(join(dir, 'manifest.yaml'), opts.manifestText ?? stringify(manifest));
    const head = ['manifest.yaml'];
    if (opts.signatureText !== undefined) await writeFile(join(dir, BUNDLE_SIGNATURE), opts.signatureText);
    else if (opts.sign !== false) await writeSignature(dir, opts.sign);
    if (opts.signatureText !== undefined || opts.sign !== false) head.push(BUNDLE_SIGNATURE);
    await run('tar', [opts.gzip === true ? '-czf' : '-cf', opts.out, '-C', dir, ...head, ...files.map((f) => f.path)]);
    return manifest;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The cached Debian test bundle. */
export interface DebianTestBundle {
  /** bundle.tar: manifest.yaml + the artifacts. */
  path: string;
  manifest: ArtifactSpec[];
  /** Debian package → version the binaries came from. */
  packages: Record<string, string>;
  /** The stand-in artifacts' names (empty without `kubeStandins`). */
  standins: string[];
}

/**
 * The Kubernetes version the kubelet, kubeadm and kubectl stand-ins are published as: the
 * catalogue's release with build metadata, so they are another build than the catalogue's pin
 * (which the trust rule would refuse them as) and clusters name them explicitly, while kubeadm is
 * told the release (shared/src/version-compare.ts).
 */
export const KUBE_STANDIN_VERSION = '1.36.3+ballast.standin';
/** The crictl version its stand-in is published as (the catalogue's crictl, as a stand-in build). */
export const CRICTL_STANDIN_VERSION = '1.36.0+ballast.standin';
/** The CNI plugins version their stand-ins are published as (the catalogue's, as a stand-in build). */
export const CNI_STANDIN_VERSION = '1.4.0+ballast.standin';
/** A CNI plugin stand-in: answers every call with a CNI error result (nothing in the lab creates pods). */
const CNI_STANDIN_SCRIPT = `#!/bin/sh
# Ballast lab stand-in for the CNI plugin PLUGIN (the lab runs no pods).
echo '{"cniVersion":"1.0.0","code":100,"msg":"ballast stand-in CNI plugin PLUGIN: no pods in the lab"}'
exit 1
`;
/** Where the stand-in scripts are (in the source tree, also when this runs from dist/). */
const STANDIN_DIR = join(import.meta.dirname.replace(/\/dist\/test\/support$/, '/test/support'), 'standin');
const STANDIN_NAMES = ['kubelet', 'kubeadm', 'kubectl', 'crictl'] as const;
/** Bump when the stand-in layout below changes. 3: signed with the test-only key. */
const STANDIN_LAYOUT_VERSION = 3;

const PACKAGES = ['etcd-server', 'etcd-client', 'containerd', 'runc'] as const;
/** Bump when the layout below changes, so stale caches are not reused. 2: signed with the test-only key. */
const LAYOUT_VERSION = 2;
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

/** A Debian package's candidate version and pool path (`apt-cache show`). */
export async function packageInfo(pkg: string): Promise<{ version: string; filename: string }> {
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
export async function debianTestBundle(
  opts: { cacheDir?: string; log?: (line: string) => void; kubeStandins?: boolean } = {},
): Promise<DebianTestBundle> {
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
  if (opts.kubeStandins === true) return withKubeStandins({ base: final, key, cacheDir, packages, log: opts.log });
  const manifest = JSON.parse(await readFile(join(final, 'manifest.json'), 'utf8')) as ArtifactSpec[];
  return { path: join(final, 'bundle.tar'), manifest, packages, standins: [] };
}

/** The Debian bundle in `base` plus the Kubernetes stand-ins, cached by both. */
async function withKubeStandins(o: {
  base: string;
  key: string;
  cacheDir: string;
  packages: Record<string, string>;
  log: ((line: string) => void) | undefined;
}): Promise<DebianTestBundle> {
  const scripts = Object.fromEntries(await Promise.all(STANDIN_NAMES.map(async (n) => [n, await readFile(join(STANDIN_DIR, n))] as const)));
  const hashes = Object.fromEntries(STANDIN_NAMES.map((n) => [n, sha256(scripts[n]!)]));
  const versions = [KUBE_STANDIN_VERSION, CRICTL_STANDIN_VERSION, CNI_STANDIN_VERSION];
  const key = sha256(JSON.stringify({ base: o.key, standins: hashes, versions, layout: STANDIN_LAYOUT_VERSION })).slice(0, 16);
  const final = join(o.cacheDir, `test-bundle-${key}`);
  if (!existsSync(join(final, 'manifest.json'))) {
    o.log?.(`adding the Kubernetes stand-ins to the Debian test bundle in ${final}`);
    const work = await mkdtemp(join(o.cacheDir, '.test-bundle-'));
    try {
      const stage = join(work, 'stage');
      const out = join(work, 'out');
      for (const d of [stage, out]) await mkdir(d, { recursive: true });
      await run('tar', ['-xf', join(o.base, 'bundle.tar'), '-C', stage]);
      const baseManifest = JSON.parse(await readFile(join(o.base, 'manifest.json'), 'utf8')) as ArtifactSpec[];
      const files = baseManifest.map((m) => m.file);
      const manifest = [...baseManifest];
      const add = async (name: string, version: string, file: string) => {
        const url = `https://ballast.invalid/standin/${name}/v${version}/${file}`;
        manifest.push({ name, version, os: 'linux', arch: 'amd64', sha256: sha256(await readFile(join(stage, file))), url, file });
        files.push(file);
      };
      // kubelet, kubeadm, kubectl: single executables, as dl.k8s.io serves them.
      for (const name of ['kubelet', 'kubeadm', 'kubectl'] as const) {
        await writeFile(join(stage, name), scripts[name]!);
        await chmod(join(stage, name), 0o755);
        await add(name, KUBE_STANDIN_VERSION, name);
      }
      // crictl-vX-linux-amd64.tar.gz with a single `crictl`, as cri-tools releases it.
      const crictlDir = join(work, 'crictl');
      await mkdir(crictlDir);
      await writeFile(join(crictlDir, 'crictl'), scripts.crictl!);
      await chmod(join(crictlDir, 'crictl'), 0o755);
      const crictlTar = `crictl-v${CRICTL_STANDIN_VERSION}-linux-amd64.tar.gz`;
      await run('tar', ['-czf', join(stage, crictlTar), '-C', crictlDir, '--owner=0', '--group=0', 'crictl']);
      await add('crictl', CRICTL_STANDIN_VERSION, crictlTar);
      // cni-plugins-linux-amd64-vX.tgz with the plugins at the top, as containernetworking releases it.
      // No pod sandbox is ever created in the lab, so the stand-ins only answer with a CNI error.
      const cniDir = join(work, 'cni');
      await mkdir(cniDir);
      for (const plugin of DEFAULT_CNI_PLUGINS) {
        await writeFile(join(cniDir, plugin), CNI_STANDIN_SCRIPT.replaceAll('PLUGIN', plugin));
        await chmod(join(cniDir, plugin), 0o755);
      }
      const cniTar = `cni-plugins-linux-amd64-v${CNI_STANDIN_VERSION}.tgz`;
      await run('tar', ['-czf', join(stage, cniTar), '-C', cniDir, '--owner=0', '--group=0', ...DEFAULT_CNI_PLUGINS]);
      await add('cni-plugins', CNI_STANDIN_VERSION, cniTar);
      const header = [
        '# Debian bookworm binaries repacked in upstream layouts (ballast test bundle), plus kubelet,',
        "# kubeadm, kubectl, crictl and the CNI plugins as Ballast's STAND-INS (test/support/standin), not the",
        '# upstream binaries, which cannot run on the test machines; their urls are https://ballast.invalid/standin/….',
      ].join('\n');
      await writeFile(join(stage, 'manifest.yaml'), `${header}\n${stringify(manifest)}`);
      await writeSignature(stage);
      await run('tar', ['-cf', join(out, 'bundle.tar'), '-C', stage, '--owner=0', '--group=0', 'manifest.yaml', BUNDLE_SIGNATURE, ...files]);
      await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
      if (!existsSync(join(final, 'manifest.json'))) await rename(out, final);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const manifest = JSON.parse(await readFile(join(final, 'manifest.json'), 'utf8')) as ArtifactSpec[];
  return { path: join(final, 'bundle.tar'), manifest, packages: o.packages, standins: [...STANDIN_NAMES] };
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
  await writeSignature(stage);
  await run('tar', ['-cf', join(out, 'bundle.tar'), '-C', stage, '--owner=0', '--group=0', 'manifest.yaml', BUNDLE_SIGNATURE, etcdTar, ctrdTar, 'runc.amd64']);
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
