/**
 * `artifacts bundle` end to end: every catalogue file downloaded (or taken from the cache) and its
 * pin verified, every image pulled and written as a docker-archive, then all of it packed into one
 * bundle (writer.ts). Nothing reaches the output before everything verified.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { type ArtifactSpec, artifactLabel } from '../../../shared/src/artifacts-api.js';
import { hashFile } from '../../../shared/src/hashing.js';
import { type HttpGetPolicy, httpGet } from '../../../shared/src/http-get.js';
import { downloadVerified } from '../../../shared/src/verified-download.js';
import type { DownloadCache } from './cache.js';
import { writeDockerArchive } from './image-archive.js';
import { type ImageRef, imageEntryName } from './image-ref.js';
import type { FileProgress } from './progress.js';
import { RegistryClient } from './registry.js';
import { type BundleMember, writeBundleFile } from './writer.js';

/** Options of {@link buildBundle}. */
export interface BuildBundleOptions {
  out: string;
  /** Catalogue entries (already for `arch`); `file` is the upstream file name. */
  artifacts: readonly ArtifactSpec[];
  images: readonly ImageRef[];
  arch: string;
  cache: DownloadCache;
  policy: HttpGetPolicy;
  /** Loopback registries spoken to over http. */
  insecureRegistries: ReadonlySet<string>;
  /** Per-download time limit. */
  timeoutMs: number;
  /** Largest single catalogue file. */
  maxBytes: number;
  progress: (label: string) => FileProgress;
  /** Provenance lines for the manifest header. */
  header: readonly string[];
  signal?: AbortSignal;
}

/** Builds the bundle; returns its manifest. */
export async function buildBundle(opts: BuildBundleOptions): Promise<ArtifactSpec[]> {
  const members: BundleMember[] = [];
  for (const spec of opts.artifacts) members.push(await fetchArtifact(opts, spec));
  const work = await mkdtemp(join(dirname(opts.out), `.${basename(opts.out)}.images-`));
  try {
    const client = new RegistryClient({
      get: (url, o) => httpGet(url, { policy: opts.policy, ...o }),
      insecure: opts.insecureRegistries,
      timeoutMs: opts.timeoutMs,
      ...(opts.signal === undefined ? {} : { signal: opts.signal }),
    });
    for (const [i, ref] of opts.images.entries()) members.push(await pullImage(opts, client, ref, join(work, String(i))));
    await writeBundleFile({ out: opts.out, members, header: opts.header, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return members.map((m) => m.spec);
}

/** One catalogue file, from the cache or downloaded and verified into it. */
async function fetchArtifact(opts: BuildBundleOptions, spec: ArtifactSpec): Promise<BundleMember> {
  const label = artifactLabel(spec);
  const shown = opts.progress(label);
  const cached = await opts.cache.get(spec.sha256, opts.signal);
  const what = `artifact ${label}`;
  const got =
    cached ??
    (await opts.cache.fill(spec.sha256, async (tmp) => {
      await downloadVerified({
        what,
        url: spec.url,
        sha256: spec.sha256,
        dest: tmp,
        timeoutMs: opts.timeoutMs,
        maxBytes: opts.maxBytes,
        open: (signal) => httpGet(spec.url, { policy: opts.policy, signal, what }),
        outcome: 'no bundle was written',
        onProgress: (p) => shown.update(p),
        ...(opts.signal === undefined ? {} : { signal: opts.signal }),
      });
    }));
  shown.done(got.size, cached === null ? 'download' : 'cache');
  return { spec: { ...spec, file: `files/${spec.file}`, size: got.size }, path: got.path };
}

/** One image: manifest resolved for linux/arch, blobs verified into the cache, a docker-archive written. */
async function pullImage(opts: BuildBundleOptions, client: RegistryClient, ref: ImageRef, stageDir: string): Promise<BundleMember> {
  const resolved = await client.resolve(ref, opts.arch);
  const { config, layers } = resolved.manifest;
  const blobs = [config, ...layers];
  const paths = new Map<string, string>();
  for (const [i, desc] of blobs.entries()) {
    if (paths.has(desc.digest)) continue;
    const hex = desc.digest.slice('sha256:'.length);
    const shown = opts.progress(`${ref.canonical} ${i === 0 ? 'config' : `layer ${i}/${layers.length}`} ${desc.digest.slice(0, 19)}…`);
    const cached = await opts.cache.get(hex, opts.signal);
    const got = cached ?? (await opts.cache.fill(hex, (tmp) => client.blob(ref, desc, tmp, (p) => shown.update(p))));
    shown.done(got.size, cached === null ? 'download' : 'cache');
    paths.set(desc.digest, got.path);
  }
  const name = imageEntryName(ref);
  const file = `images/${name}_${ref.tag}.tar`;
  const out = join(stageDir, 'archive.tar');
  const id = await writeDockerArchive({
    out,
    stageDir: join(stageDir, 'stage'),
    repoTag: ref.canonical,
    config: { digest: config.digest, path: paths.get(config.digest)! },
    layers: layers.map((l) => ({ digest: l.digest, path: paths.get(l.digest)! })),
    ...(opts.signal === undefined ? {} : { signal: opts.signal }),
  });
  const spec: ArtifactSpec = {
    name,
    version: ref.tag,
    os: 'linux',
    arch: opts.arch,
    sha256: await hashFile(out, opts.signal),
    url: resolved.url,
    file,
    size: (await stat(out)).size,
    image: { ref: ref.canonical, id },
  };
  return { spec, path: out };
}
