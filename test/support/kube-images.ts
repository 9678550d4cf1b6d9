/**
 * Container images without a registry or Docker (issue 11): docker-archive tarballs (the
 * `docker save` layout `ctr images import` takes) built from static binaries, byte for byte
 * deterministic — the same binaries give the same tar, so its sha256 and its image ID (the config
 * digest) are stable and can be pinned in a bundle's manifest.
 *
 * `buildKubeImages` packs the control-plane images kubeadm names (kube-apiserver,
 * kube-controller-manager, kube-scheduler, and kube-proxy when its binary is there) and Ballast's
 * own pause from a bin dir such as /var/cache/ballast/kube/v1.36.3/bin (scripts/upstream/build.sh),
 * and returns their artifact entries (shared/src/images.ts has the format). Lab and air-gap
 * tooling, not the controller's runtime.
 *
 * Each image is one layer: the binary, /etc/passwd and /etc/group with root only, and /tmp (1777).
 * Binaries go to /usr/local/bin (kubeadm's static pods run `kube-apiserver` by name from PATH, and
 * kube-proxy's DaemonSet runs /usr/local/bin/kube-proxy), the pause to /pause with user 65535 like
 * upstream's. Known gap: upstream's kube-proxy image carries iptables/nft; ours carries none.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ArtifactSpec } from '../../shared/src/artifacts-api.js';
import { parseImageRef } from '../../shared/src/images.js';
import { kubeadmImages } from '../../shared/src/kube-images.js';
import { ustarHeader, ustarMemberBytes, ustarPadding, USTAR_END, type UstarEntry } from '../../shared/src/ustar.js';

/** Where the image tars go inside a bundle. */
export const IMAGES_DIR = 'images';
/** The registry kubeadm names by default. */
export const KUBE_REGISTRY = 'registry.k8s.io';
/** The pause tag `kubeadm config images list` names for Kubernetes 1.36 (shared/src/kube-images.ts has them all). */
export const KUBE_1_36_PAUSE_TAG = '3.10.2';
/** Ballast's own pause binary for Kubernetes 1.36 (scripts/upstream/build.sh --only pause); BALLAST_PAUSE_BIN overrides. */
export const PAUSE_BIN = process.env.BALLAST_PAUSE_BIN ?? '/var/cache/ballast/kube/v1.36.3/bin/pause';
/** The reference of the pause image of Kubernetes 1.36. */
export const PAUSE_REF = `${KUBE_REGISTRY}/pause:${KUBE_1_36_PAUSE_TAG}`;

/** Why {@link PAUSE_BIN} cannot be packed here (it is absent, with how to build it), or null. */
export function pauseBinMissing(): string | null {
  return existsSync(PAUSE_BIN) ? null : `${PAUSE_BIN} is absent (build it: scripts/upstream/build.sh --only pause)`;
}
/** The control-plane components whose images kubeadm names (kube-proxy: only if its binary exists). */
export const CONTROL_PLANE_IMAGES = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
/** Provenance URL prefix of source-built images: a reserved name that never resolves. */
export const SOURCE_BUILT_URL = 'https://ballast.invalid/source-built';

/** One file of an image's single layer. */
export interface LayerFile {
  /** Path on this machine. */
  src: string;
  /** Absolute path in the image. */
  dest: string;
  mode: number;
}

/** What {@link buildImageArchive} packs. */
export interface ImageArchiveOptions {
  /** `registry.k8s.io/pause:3.10.2`. */
  ref: string;
  /** Go architecture of the binaries (`amd64`). */
  arch: string;
  files: LayerFile[];
  entrypoint: string[];
  /** Image config `User` (upstream's pause runs as 65535:65535); default root. */
  user?: string;
  /** Where to write the tar (atomically: temp file, then rename). */
  out: string;
}

/** The identity of a built archive. */
export interface ImageArchive {
  sha256: string;
  size: number;
  /** `sha256:` + the config digest. */
  id: string;
}

const ROOT_ONLY = { passwd: 'root:x:0:0:root:/:/nonexistent\n', group: 'root:x:0:\n' };

/** A layer member: a directory, a file from disk, or bytes in memory. */
type LayerMember = { name: string; type: 'dir'; mode: number } | { name: string; type: 'file'; mode: number; size: number; src: string } | { name: string; type: 'file'; mode: number; data: Buffer };

/** Every directory above `path` (relative, no leading slash): `usr/local/bin/x` → usr, usr/local, usr/local/bin. */
function parents(path: string): string[] {
  const parts = path.split('/').slice(0, -1);
  return parts.map((_p, i) => parts.slice(0, i + 1).join('/'));
}

async function layerMembers(files: readonly LayerFile[]): Promise<LayerMember[]> {
  const members = new Map<string, LayerMember>();
  const addDirs = (path: string) => {
    for (const dir of parents(path)) if (!members.has(dir)) members.set(dir, { name: dir, type: 'dir', mode: 0o755 });
  };
  for (const f of files) {
    if (!f.dest.startsWith('/') || f.dest.split('/').slice(1).some((s) => s === '' || s === '.' || s === '..')) {
      throw new Error(`image file destination ${f.dest} must be a canonical absolute path`);
    }
    const name = f.dest.slice(1);
    addDirs(name);
    members.set(name, { name, type: 'file', mode: f.mode, size: (await stat(f.src)).size, src: f.src });
  }
  for (const [name, text] of [['etc/passwd', ROOT_ONLY.passwd], ['etc/group', ROOT_ONLY.group]] as const) {
    addDirs(name);
    if (!members.has(name)) members.set(name, { name, type: 'file', mode: 0o644, data: Buffer.from(text) });
  }
  members.set('tmp', { name: 'tmp', type: 'dir', mode: 0o1777 });
  // Sorted by name, so the order never depends on the order the caller listed files in.
  return [...members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function entryOf(m: LayerMember): UstarEntry {
  if (m.type === 'dir') return { name: m.name, type: 'dir', mode: m.mode, size: 0 };
  return { name: m.name, type: 'file', mode: m.mode, size: 'data' in m ? m.data.length : m.size };
}

/** Bytes of the layer tar of `members` (computed, so the outer header can be written before the layer). */
function layerBytes(members: readonly LayerMember[]): number {
  return members.reduce((sum, m) => sum + ustarMemberBytes(entryOf(m).size), 0) + USTAR_END.length;
}

/** Streams the layer tar of `members` through `sink` (in order), returning its sha256. */
async function writeLayer(members: readonly LayerMember[], sink: (chunk: Buffer) => Promise<void>): Promise<string> {
  const hash = createHash('sha256');
  const put = async (chunk: Buffer) => {
    hash.update(chunk);
    await sink(chunk);
  };
  for (const m of members) {
    const entry = entryOf(m);
    await put(ustarHeader(entry));
    if (m.type === 'dir') continue;
    if ('data' in m) await put(m.data);
    else {
      let seen = 0;
      for await (const chunk of createReadStream(m.src)) {
        seen += (chunk as Buffer).length;
        await put(chunk as Buffer);
      }
      if (seen !== m.size) throw new Error(`${m.src} changed size while it was packed (${m.size} → ${seen} bytes)`);
    }
    await put(ustarPadding(entry.size));
  }
  await put(USTAR_END);
  return hash.digest('hex');
}

/**
 * Writes one docker-archive tar: `<config digest>.json`, `<layer digest>/layer.tar`, `manifest.json`
 * (sorted names, plain ustar, mtime 0, root-owned). The layer is hashed in a first pass (its digest
 * names it and goes into the config) and copied in a second, so nothing large is held in memory.
 */
export async function buildImageArchive(opts: ImageArchiveOptions): Promise<ImageArchive> {
  if (parseImageRef(opts.ref) === null) throw new Error(`image reference ${opts.ref} is not registry/repository:tag`);
  const members = await layerMembers(opts.files);
  const layerSha = await writeLayer(members, async () => {});
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch,
      os: 'linux',
      created: '1970-01-01T00:00:00Z',
      config: {
        ...(opts.user === undefined ? {} : { User: opts.user }),
        Env: ['PATH=/usr/local/bin:/usr/bin:/bin'],
        Entrypoint: opts.entrypoint,
        WorkingDir: '/',
      },
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] },
      history: [{ created: '1970-01-01T00:00:00Z', created_by: 'ballast test/support/kube-images.ts' }],
    }),
  );
  const configSha = createHash('sha256').update(config).digest('hex');
  const manifest = Buffer.from(JSON.stringify([{ Config: `${configSha}.json`, RepoTags: [opts.ref], Layers: [`${layerSha}/layer.tar`] }]));

  await mkdir(dirname(opts.out), { recursive: true });
  const tmp = `${opts.out}.${process.pid}.tmp`;
  const handle = await open(tmp, 'w', 0o644);
  const hash = createHash('sha256');
  let size = 0;
  const write = async (chunk: Buffer) => {
    hash.update(chunk);
    size += chunk.length;
    await handle.write(chunk);
  };
  const small = async (name: string, data: Buffer) => {
    await write(ustarHeader({ name, type: 'file', mode: 0o644, size: data.length }));
    await write(data);
    await write(ustarPadding(data.length));
  };
  try {
    // Sorted member names: the config (<hex>.json), the layer directory and tar, manifest.json.
    const [first, second] = configSha < layerSha ? (['config', 'layer'] as const) : (['layer', 'config'] as const);
    for (const part of [first, second]) {
      if (part === 'config') await small(`${configSha}.json`, config);
      else {
        await write(ustarHeader({ name: layerSha, type: 'dir', mode: 0o755, size: 0 }));
        const bytes = layerBytes(members);
        await write(ustarHeader({ name: `${layerSha}/layer.tar`, type: 'file', mode: 0o644, size: bytes }));
        const again = await writeLayer(members, write);
        if (again !== layerSha) throw new Error(`a layer file of ${opts.ref} changed while it was packed`);
        await write(ustarPadding(bytes));
      }
    }
    await small('manifest.json', manifest);
    await write(USTAR_END);
    await handle.sync();
    await handle.close();
    await rename(tmp, opts.out);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
  return { sha256: hash.digest('hex'), size, id: `sha256:${configSha}` };
}

/** Options of {@link buildKubeImages}. */
export interface KubeImagesOptions {
  /** Holds kube-apiserver, kube-controller-manager, kube-scheduler, pause (and kube-proxy). */
  binDir: string;
  /** Bundle directory: tars go to `<outDir>/images/`, entries name them relative to it. */
  outDir: string;
  /** The tag of the control-plane images, `v1.36.3`. */
  kubernetesVersion: string;
  /** Default: the one kubeadm names for this Kubernetes minor (shared/src/kube-images.ts). */
  pauseTag?: string;
  /** Default amd64. */
  arch?: string;
  /** Default registry.k8s.io. */
  registry?: string;
}

/** One image's artifact entry (with `image`), in a bundle's manifest shape. */
export type ImageArtifactSpec = ArtifactSpec & Required<Pick<ArtifactSpec, 'image' | 'size'>>;

/**
 * Builds the control-plane images and the pause from `binDir` into `<outDir>/images/` and returns
 * their artifact entries, in a fixed order (apiserver, controller-manager, scheduler, proxy, pause).
 */
export async function buildKubeImages(opts: KubeImagesOptions): Promise<ImageArtifactSpec[]> {
  const arch = opts.arch ?? 'amd64';
  const registry = opts.registry ?? KUBE_REGISTRY;
  const tag = opts.kubernetesVersion.startsWith('v') ? opts.kubernetesVersion : `v${opts.kubernetesVersion}`;
  // The tags kubeadm names for this version: the pause's is pinned per minor, not the Kubernetes version.
  const named = kubeadmImages(tag);
  const kubeadmPause = named?.map(parseImageRef).find((r) => r?.shortName === 'pause')?.tag;
  const pauseTag = opts.pauseTag ?? kubeadmPause;
  if (pauseTag === undefined) throw new Error(`no pause tag known for Kubernetes ${tag} (shared/src/kube-images.ts); pass pauseTag`);
  const wanted: { name: string; tag: string; dest: string; user?: string }[] = CONTROL_PLANE_IMAGES.map((name) => ({ name, tag, dest: `/usr/local/bin/${name}` }));
  if (existsSync(join(opts.binDir, 'kube-proxy'))) wanted.push({ name: 'kube-proxy', tag, dest: '/usr/local/bin/kube-proxy' });
  wanted.push({ name: 'pause', tag: pauseTag, dest: '/pause', user: '65535:65535' });
  const out: ImageArtifactSpec[] = [];
  for (const w of wanted) {
    const src = join(opts.binDir, w.name);
    if (!existsSync(src)) throw new Error(`${src} is missing: build it with scripts/upstream/build.sh`);
    const ref = `${registry}/${w.name}:${w.tag}`;
    const file = `${IMAGES_DIR}/${w.name}_${w.tag}.tar`;
    const built = await buildImageArchive({
      ref,
      arch,
      files: [{ src, dest: w.dest, mode: 0o755 }],
      entrypoint: [w.dest],
      ...(w.user === undefined ? {} : { user: w.user }),
      out: join(opts.outDir, file),
    });
    out.push({
      name: `image-${w.name}`,
      version: w.tag,
      os: 'linux',
      arch,
      sha256: built.sha256,
      url: `${SOURCE_BUILT_URL}/${file}`,
      file,
      size: built.size,
      image: { ref, id: built.id },
    });
  }
  return out;
}
