/**
 * The real-Kubernetes lab bundle (issue 11): what `scripts/lab bundle` writes and the real-cluster
 * lab tests import — in exactly the layout `ballastctl artifacts import` takes, so lab hosts install
 * Kubernetes the way a user's hosts install upstream's downloads.
 *
 * - kubelet, kubeadm, kubectl (raw executables, as dl.k8s.io serves them), crictl
 *   (crictl-vX-linux-amd64.tar.gz) and etcd (etcd-vX-linux-amd64/{etcd,etcdctl,etcdutl}) built from
 *   source by scripts/upstream/build.sh into /var/cache/ballast/{kube,crictl,etcd}/vX/bin;
 * - containerd, containerd-shim-runc-v2, ctr, runc and the CNI plugins from Debian bookworm
 *   (the Debian test bundle, test/support/bundle.ts, plus containernetworking-plugins);
 * - the control-plane images (kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy)
 *   and Ballast's own pause as docker archives (test/support/kube-images.ts), with the tags kubeadm
 *   names — their version is the tag (v1.36.3, 3.10.2), which an image entry must carry, so they
 *   have no build metadata; being in no catalogue, they are trusted through the signature below.
 *
 * The manifest is signed with the TEST-ONLY key pair in test/support/testdata, which the lab's
 * controller trusts (`--artifact-trust-key`): none of these builds is the catalogue's pinned one.
 *
 * Every artifact carries semver build metadata, `+ballast.lab`: a source build is not upstream's
 * release binary, so it must never be mistaken for the catalogue's pinned build of the same version
 * (the trust rule refuses a pinned name and version with another sha256). Kubernetes sees the
 * version without the metadata (kubeadm's `kubernetesVersion` is v1.36.3).
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { ArtifactSpec } from '../../shared/src/artifacts-api.js';
import { BUNDLE_SIGNATURE } from '../../shared/src/artifacts-signature.js';
import { debianTestBundle, packageInfo, sha256, testCacheDir, upstreamVersion, writeSignature } from './bundle.js';
import { buildKubeImages, CONTROL_PLANE_IMAGES } from './kube-images.js';

const run = promisify(execFile);

/** The build metadata of every source-built (or repacked) lab artifact. */
export const LAB_BUILD = 'ballast.lab';
/** Where scripts/upstream/build.sh caches its output. */
export const UPSTREAM_CACHE = process.env.BALLAST_UPSTREAM_CACHE ?? '/var/cache/ballast';
const LAYOUT_VERSION = 3;
const CNI_PACKAGE = 'containernetworking-plugins';

/** The repo's scripts/upstream (also when this runs from dist/). */
const UPSTREAM_DIR = join(import.meta.dirname.replace(/\/dist\/test\/support$/, '/test/support'), '../../scripts/upstream');
const MODULES = { kube: ['kube', 'k8s.io/kubernetes'], etcd: ['etcd', 'go.etcd.io/etcd/server/v3'], crictl: ['crictl', 'sigs.k8s.io/cri-tools'] } as const;

/** The version scripts/upstream/<what>/go.mod pins (what build.sh builds), without the `v`. */
export function pinnedVersion(what: keyof typeof MODULES): string {
  const [dir, module] = MODULES[what];
  const text = readFileSync(join(UPSTREAM_DIR, dir, 'go.mod'), 'utf8');
  const m = new RegExp(`^\\s*(?:require\\s+)?${module.replaceAll('.', '\\.')}\\s+v(\\d+\\.\\d+\\.\\d+)\\s*$`, 'm').exec(text);
  if (!m?.[1]) throw new Error(`failed to read the pinned ${module} version from ${join(UPSTREAM_DIR, dir, 'go.mod')}`);
  return m[1];
}

/** The cached build of the pinned version of `what` when it has every one of `bins`, else null. */
export function cachedBuild(what: keyof typeof MODULES, bins: readonly string[], cache = UPSTREAM_CACHE): { version: string; dir: string } | null {
  const version = pinnedVersion(what);
  const dir = join(cache, what, `v${version}`, 'bin');
  return bins.every((b) => existsSync(join(dir, b))) ? { version, dir } : null;
}

export const KUBE_BINS = ['kubelet', 'kubeadm', 'kubectl'] as const;
/** What the images are built from (scripts/upstream/build.sh puts pause beside the kube binaries). */
export const IMAGE_BINS = [...CONTROL_PLANE_IMAGES, 'kube-proxy', 'pause'] as const;
export const ETCD_BINS = ['etcd', 'etcdctl', 'etcdutl'] as const;

/** Why the real-Kubernetes lab cannot run here, or null: the source builds it needs are cached. */
export function kubeBuildsMissing(cache = UPSTREAM_CACHE): string | null {
  const missing = [
    cachedBuild('kube', [...KUBE_BINS, ...IMAGE_BINS], cache) === null ? `kube (${[...KUBE_BINS, ...IMAGE_BINS].join(', ')})` : null,
    cachedBuild('etcd', ETCD_BINS, cache) === null ? 'etcd' : null,
    cachedBuild('crictl', ['crictl'], cache) === null ? 'crictl' : null,
  ].filter((m) => m !== null);
  return missing.length === 0 ? null : `no source build of ${missing.join(', ')} in ${cache} (run: bash scripts/upstream/build.sh)`;
}

export interface KubeLabBundle {
  path: string;
  manifest: ArtifactSpec[];
  /** The versions a cluster.yaml names to use this bundle. */
  versions: { kubernetes: string; etcd: string; containerd: string };
}

/** Builds (or reuses from the cache) the real-Kubernetes lab bundle. */
export async function kubeLabBundle(opts: { cacheDir?: string; log?: (line: string) => void } = {}): Promise<KubeLabBundle> {
  const why = kubeBuildsMissing();
  if (why !== null) throw new Error(`failed to build the Kubernetes lab bundle: ${why}`);
  const kube = cachedBuild('kube', KUBE_BINS)!;
  const etcd = cachedBuild('etcd', ETCD_BINS)!;
  const crictl = cachedBuild('crictl', ['crictl'])!;
  const debian = await debianTestBundle({ log: opts.log, ...(opts.cacheDir === undefined ? {} : { cacheDir: opts.cacheDir }) });
  const cni = await packageInfo(CNI_PACKAGE);
  const inputs = { kube, etcd, crictl, debian: debian.packages, cni: cni.version, layout: LAYOUT_VERSION };
  const key = sha256(JSON.stringify(inputs)).slice(0, 16);
  const cacheDir = opts.cacheDir ?? testCacheDir();
  const final = join(cacheDir, `kube-bundle-${key}`);
  const lab = (v: string) => `${v}+${LAB_BUILD}`;
  const containerd = debian.manifest.find((m) => m.name === 'containerd')?.version ?? '';
  const versions = { kubernetes: lab(kube.version), etcd: lab(etcd.version), containerd };
  if (!existsSync(join(final, 'manifest.json'))) {
    opts.log?.(`building the Kubernetes lab bundle in ${final} (kube ${kube.version}, etcd ${etcd.version}, crictl ${crictl.version} from ${UPSTREAM_CACHE})`);
    await mkdir(cacheDir, { recursive: true });
    const work = await mkdtemp(join(cacheDir, '.kube-bundle-'));
    try {
      await build({ work, debianTar: debian.path, debianManifest: debian.manifest, kube, etcd, crictl, cniFilename: cni.filename, lab });
      if (!existsSync(join(final, 'manifest.json'))) await rename(join(work, 'out'), final);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const manifest = JSON.parse(await readFile(join(final, 'manifest.json'), 'utf8')) as ArtifactSpec[];
  return { path: join(final, 'bundle.tar'), manifest, versions };
}

interface Build {
  work: string;
  debianTar: string;
  debianManifest: ArtifactSpec[];
  kube: { version: string; dir: string };
  etcd: { version: string; dir: string };
  crictl: { version: string; dir: string };
  cniFilename: string;
  lab: (v: string) => string;
}

async function build(b: Build): Promise<void> {
  const stage = join(b.work, 'stage');
  const out = join(b.work, 'out');
  const scratch = join(b.work, 'scratch');
  for (const d of [stage, out, scratch]) await mkdir(d, { recursive: true });
  const manifest: ArtifactSpec[] = [];
  const add = async (name: string, version: string, file: string, url: string) =>
    manifest.push({ name, version, os: 'linux', arch: 'amd64', sha256: sha256(await readFile(join(stage, file))), url, file });
  const src = (what: string, v: string, file: string) => `https://ballast.invalid/source-build/${what}/v${v}/${file}`;

  // containerd and runc from the Debian bundle, unchanged.
  await run('tar', ['-xf', b.debianTar, '-C', stage]);
  for (const m of b.debianManifest.filter((m) => m.name === 'containerd' || m.name === 'runc')) manifest.push(m);
  // kubelet, kubeadm, kubectl: single executables.
  for (const name of KUBE_BINS) {
    await copyFile(join(b.kube.dir, name), join(stage, name));
    await chmod(join(stage, name), 0o755);
    await add(name, b.lab(b.kube.version), name, src('kubernetes', b.kube.version, name));
  }
  // crictl-vX-linux-amd64.tar.gz with a single `crictl`.
  const crictlTar = `crictl-v${b.crictl.version}-linux-amd64.tar.gz`;
  await run('tar', ['-czf', join(stage, crictlTar), '-C', b.crictl.dir, '--owner=0', '--group=0', 'crictl']);
  await add('crictl', b.lab(b.crictl.version), crictlTar, src('cri-tools', b.crictl.version, crictlTar));
  // etcd-vX-linux-amd64/{etcd,etcdctl,etcdutl}, as etcd's release tarball (replaces Debian's 3.4).
  const etcdDir = `etcd-v${b.etcd.version}-linux-amd64`;
  await mkdir(join(scratch, etcdDir));
  for (const bin of ETCD_BINS) await copyFile(join(b.etcd.dir, bin), join(scratch, etcdDir, bin));
  const etcdTar = `${etcdDir}.tar.gz`;
  await run('tar', ['-czf', join(stage, etcdTar), '-C', scratch, '--owner=0', '--group=0', etcdDir]);
  await add('etcd', b.lab(b.etcd.version), etcdTar, src('etcd', b.etcd.version, etcdTar));
  // cni-plugins-linux-amd64-vX.tgz with the plugins at the top, from Debian's package.
  await run('apt-get', ['download', CNI_PACKAGE], { cwd: scratch, maxBuffer: 16 * 1024 * 1024 });
  const deb = readdirSync(scratch).find((f) => f.startsWith(`${CNI_PACKAGE}_`) && f.endsWith('.deb'));
  if (deb === undefined) throw new Error(`apt-get download ${CNI_PACKAGE} left no .deb in ${scratch}`);
  await run('dpkg-deb', ['-x', join(scratch, deb), join(scratch, 'cni-root')]);
  const cniVersion = upstreamVersion(/_([^_]+)_amd64\.deb$/.exec(deb)?.[1] ?? '');
  const cniTar = `cni-plugins-linux-amd64-v${cniVersion}.tgz`;
  const plugins = readdirSync(join(scratch, 'cni-root/usr/lib/cni')).sort();
  await run('tar', ['-czf', join(stage, cniTar), '-C', join(scratch, 'cni-root/usr/lib/cni'), '--owner=0', '--group=0', ...plugins]);
  await add('cni-plugins', `${cniVersion}+debian`, cniTar, `http://deb.debian.org/debian/${b.cniFilename}`);
  // The images kubeadm names, from the same binaries (deterministic: the same cache gives the same pins).
  manifest.push(...(await buildKubeImages({ binDir: b.kube.dir, outDir: stage, kubernetesVersion: b.kube.version })));

  const files = manifest.map((m) => m.file);
  const header = [
    "# Ballast's real-Kubernetes lab bundle (test/support/kube-bundle.ts): Kubernetes, crictl and etcd built from",
    '# source (scripts/upstream/build.sh, versions +ballast.lab), containerd, runc and the CNI plugins from Debian bookworm,',
    "# and the control-plane images and Ballast's pause packed from the same build (test/support/kube-images.ts).",
  ].join('\n');
  await writeFile(join(stage, 'manifest.yaml'), `${header}\n${stringify(manifest)}`);
  // Signed with the TEST-ONLY key the lab's controller trusts (test/support/testdata).
  await writeSignature(stage);
  await run('tar', ['-cf', join(out, 'bundle.tar'), '-C', stage, '--owner=0', '--group=0', 'manifest.yaml', BUNDLE_SIGNATURE, ...files]);
  await writeFile(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
}
