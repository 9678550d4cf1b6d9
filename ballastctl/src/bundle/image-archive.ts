/**
 * Writes a pulled image as a docker-archive tarball, the format `docker load` and
 * `ctr -n k8s.io images import` take: `manifest.json` (`[{Config, RepoTags, Layers}]`), the config
 * JSON and the layer blobs. Members are named `blobs/sha256/<hex>` as Docker 25's `docker save`
 * names them; the layers stay as the registry serves them (gzip'd), which both importers detect.
 * The image ID is the config's digest.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createTar } from './tar.js';

/** Options of {@link writeDockerArchive}. */
export interface DockerArchiveOptions {
  /** The tarball to create (must not exist). */
  out: string;
  /** An empty scratch directory for this image. */
  stageDir: string;
  /** RepoTags entry, e.g. `registry.k8s.io/pause:3.10.2`. */
  repoTag: string;
  config: { digest: string; path: string };
  layers: readonly { digest: string; path: string }[];
  signal?: AbortSignal;
}

/** Writes the archive; returns the image ID (`sha256:<config hex>`). */
export async function writeDockerArchive(opts: DockerArchiveOptions): Promise<string> {
  const member = (digest: string) => `blobs/sha256/${digest.slice('sha256:'.length)}`;
  await mkdir(join(opts.stageDir, 'blobs', 'sha256'), { recursive: true });
  const members = ['manifest.json'];
  for (const blob of [opts.config, ...opts.layers]) {
    const name = member(blob.digest);
    if (members.includes(name)) continue; // the same layer twice in one image is stored once
    await symlink(blob.path, join(opts.stageDir, name));
    members.push(name);
  }
  const manifest = [{ Config: member(opts.config.digest), RepoTags: [opts.repoTag], Layers: opts.layers.map((l) => member(l.digest)) }];
  await writeFile(join(opts.stageDir, 'manifest.json'), `${JSON.stringify(manifest)}\n`);
  await mkdir(dirname(opts.out), { recursive: true });
  await createTar({ out: opts.out, dir: opts.stageDir, members: ['manifest.json', 'blobs', 'blobs/sha256', ...members.slice(1)], what: `image archive ${opts.repoTag}`, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
  return opts.config.digest;
}
