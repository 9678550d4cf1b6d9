/**
 * `ballastctl artifacts bundle`: builds the offline bundle for an air-gapped controller on a
 * machine that has the internet (no controller needed): the catalogue's pinned files, downloaded
 * and verified, and optionally container images pulled from their registries, packed as the
 * tarball `artifacts import` takes. The work is in ../bundle/; this file is flags and output.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type ArtifactSpec, DEFAULT_MAX_BUNDLE_BYTES } from '../../../shared/src/artifacts-api.js';
import { isBallastError } from '../../../shared/src/errors.js';
import { KNOWN_KUBE_MINORS, kubeadmImages } from '../../../shared/src/kube-images.js';
import { DEFAULT_CATALOGUE } from '../../../controller/src/artifacts/catalogue.js';
import { catalogueToSpecs } from '../../../controller/src/artifacts/manifest.js';
import { buildBundle } from '../bundle/build.js';
import { DownloadCache, defaultCacheDir } from '../bundle/cache.js';
import { bundleFetchPolicy, checkInsecureRegistry } from '../bundle/fetch-policy.js';
import { type ImageRef, imageEntryName, parseImageRef } from '../bundle/image-ref.js';
import { progressReporter } from '../bundle/progress.js';
import { removeLeftovers } from '../bundle/writer.js';
import type { CliContext } from '../context.js';
import { AbortedError, usageError } from '../errors.js';
import { type Cell, formatBytes, formatTable } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { parseDuration } from '../parse.js';
import { ctlVersion } from '../version.js';
import { withExamples } from './common.js';
import { readCatalogue } from './catalogue-file.js';

/** Flags of `artifacts bundle`. */
interface BundleFlags {
  out: string;
  catalogue?: string;
  arch: string;
  images?: string[];
  kubernetesImages?: boolean;
  insecureRegistry?: string[];
  caFile?: string;
  cacheDir?: string;
  timeout: number;
  output: 'text' | 'json';
}

/** What `-o json` prints. */
export interface BundleResult {
  out: string;
  size: number;
  manifest: ArtifactSpec[];
}

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), ...value.split(',').map((v) => v.trim()).filter((v) => v !== '')];

/** Registers `artifacts bundle` under the `artifacts` group. */
export function registerBundle(group: Command, ctx: CliContext): void {
  const cmd = group
    .command('bundle')
    .description(
      'build an offline bundle on a machine with internet access (no controller needed): downloads every catalogue file over https and verifies ' +
        'its pinned sha256, optionally pulls container images, and writes one tarball for "artifacts import" on an air-gapped controller; ' +
        'the output appears only when complete, and verified downloads are cached so a rerun resumes',
    )
    .requiredOption('--out <file>', 'the bundle to write (a plain tar with manifest.yaml first; replaced atomically)')
    .option('--catalogue <file>', 'catalogue (YAML or JSON list of name, version, os, arch, url, sha256), as for "artifacts fetch"; default: the built-in one')
    .addOption(new Option('--arch <arch>', 'which architecture: catalogue entries of other arches are left out, images are pulled for linux/<arch>').default('amd64'))
    .option('--images <refs>', 'container images to add, comma-separated or repeated (e.g. registry.k8s.io/pause:3.10.2)', collect)
    .option('--kubernetes-images', "add the images kubeadm needs for the catalogue's Kubernetes version (its kubeadm entry), without etcd")
    .option('--insecure-registry <host:port>', 'pull from this registry over plain http; loopback addresses only (repeatable)', collect)
    .option('--ca-file <file>', 'also trust the CA certificates in this PEM file (NODE_EXTRA_CA_CERTS works too)')
    .option('--cache-dir <dir>', 'where verified downloads are kept for reruns (default: $XDG_CACHE_HOME/ballast/downloads or ~/.cache/ballast/downloads)')
    .addOption(new Option('--timeout <duration>', 'time limit per download (e.g. 30m)').default(30 * 60_000, '30m').argParser(timeoutMs))
    .addOption(outputOption(['text', 'json']))
    .action(async (flags: BundleFlags) => {
      const res = await runBundle(ctx, flags);
      ctx.out(flags.output === 'json' ? formatDocument('json', res) : bundleText(res));
    });
  withExamples(cmd, [
    'ballastctl artifacts bundle --out ballast-bundle.tar --kubernetes-images',
    'ballastctl artifacts bundle --out bundle.tar --catalogue versions.yaml --images registry.k8s.io/pause:3.10.2',
    'ballastctl artifacts import ballast-bundle.tar   # then, on the air-gapped side',
  ]);
}

function timeoutMs(text: string): number {
  const seconds = parseDuration(text);
  if (seconds < 1) throw new InvalidArgumentError('the timeout must be at least 1s');
  return seconds * 1000;
}

async function runBundle(ctx: CliContext, flags: BundleFlags): Promise<BundleResult> {
  const out = resolve(ctx.io.cwd ?? process.cwd(), flags.out);
  await checkOut(out);
  const catalogue = flags.catalogue === undefined ? DEFAULT_CATALOGUE : await readCatalogue(flags.catalogue);
  const source = flags.catalogue ?? 'the built-in catalogue';
  const artifacts = catalogueToSpecs(catalogue, source).filter((s) => s.arch === flags.arch);
  const insecure = new Set<string>();
  for (const r of flags.insecureRegistry ?? []) {
    const problem = checkInsecureRegistry(r);
    if (problem !== null) throw usageError(`--insecure-registry: ${problem}`);
    insecure.add(r);
  }
  const images = imageList(flags, artifacts, source);
  if (artifacts.length === 0 && images.length === 0) throw usageError(`${source} has no entries for arch ${flags.arch} and no images were asked for: the bundle would be empty`);
  const extraCa = flags.caFile === undefined ? undefined : await readCa(flags.caFile);
  const cwd = ctx.io.cwd ?? process.cwd();
  const cacheDir = resolve(cwd, flags.cacheDir ?? defaultCacheDir(ctx.io.env, ctx.io.homedir ?? process.env.HOME ?? '/root'));
  for (const n of await removeLeftovers(out)) ctx.note(`removed ${n}, left behind by an earlier run that was killed`);
  ctx.note(`building ${out}: ${artifacts.length} file${artifacts.length === 1 ? '' : 's'} from ${source} and ${images.length} image${images.length === 1 ? '' : 's'} for ${flags.arch} (cache ${cacheDir})`);
  try {
    const manifest = await buildBundle({
      out,
      artifacts,
      images,
      arch: flags.arch,
      cache: new DownloadCache(cacheDir),
      policy: bundleFetchPolicy({ insecureRegistries: insecure, userAgent: `ballastctl/${ctlVersion()}`, ...(extraCa === undefined ? {} : { extraCa }) }),
      insecureRegistries: insecure,
      timeoutMs: flags.timeout,
      maxBytes: DEFAULT_MAX_BUNDLE_BYTES,
      progress: progressReporter(ctx.io.stderr, () => ctx.now()),
      header: [`Ballast offline bundle written by ballastctl ${ctlVersion()} (artifacts bundle) from ${source}; every file verified against its pin or digest.`],
      ...(ctx.signal === undefined ? {} : { signal: ctx.signal }),
    });
    return { out, size: (await stat(out)).size, manifest };
  } catch (err) {
    if (ctx.signal?.aborted === true) {
      ctx.note(`interrupted: no bundle was written to ${out}; verified downloads stay in ${cacheDir} for the next run`);
      throw new AbortedError();
    }
    throw err;
  }
}

/** The images to pull: --images plus, with --kubernetes-images, kubeadm's list for the catalogue's version. */
function imageList(flags: BundleFlags, artifacts: readonly ArtifactSpec[], source: string): ImageRef[] {
  const refs = [...(flags.images ?? [])];
  if (flags.kubernetesImages === true) {
    const kubeadm = artifacts.find((a) => a.name === 'kubeadm');
    if (kubeadm === undefined) throw usageError(`--kubernetes-images: ${source} has no kubeadm entry for arch ${flags.arch} to take the Kubernetes version from; name the images with --images`);
    const list = kubeadmImages(kubeadm.version);
    if (list === null) {
      throw usageError(`--kubernetes-images: Kubernetes ${kubeadm.version} is not a minor ballastctl knows the images of (${KNOWN_KUBE_MINORS.join(', ')}); name them with --images (see "kubeadm config images list")`);
    }
    refs.push(...list);
  }
  const seen = new Set<string>();
  const parsed: ImageRef[] = [];
  for (const text of refs) {
    let ref: ImageRef;
    try {
      ref = parseImageRef(text);
    } catch (err) {
      if (isBallastError(err)) throw usageError(`--images: ${err.message}`);
      throw err;
    }
    if (seen.has(ref.canonical)) continue;
    seen.add(ref.canonical);
    const clash = parsed.find((p) => imageEntryName(p) === imageEntryName(ref) && p.tag === ref.tag);
    if (clash !== undefined) {
      throw usageError(`--images: ${clash.canonical} and ${ref.canonical} would both be ${imageEntryName(ref)} ${ref.tag} in the bundle (entries are named after the last repository segment); bundle them separately`);
    }
    parsed.push(ref);
  }
  return parsed;
}

/** The output's directory must exist and the output, if it exists, must be a file (it is replaced). */
async function checkOut(out: string): Promise<void> {
  const dir = dirname(out);
  const kind = async (p: string) => stat(p).then((st) => (st.isDirectory() ? 'dir' : 'other'), (err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? 'missing' : 'other'));
  if ((await kind(dir)) !== 'dir') throw usageError(`--out ${out}: the directory ${dir} does not exist`);
  if ((await kind(out)) === 'dir') throw usageError(`--out ${out} is a directory; name the bundle file`);
}

async function readCa(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw usageError(`cannot read --ca-file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw usageError(`--ca-file ${path} holds no PEM certificate`);
  return text;
}

/** The bundle's contents as a table and a summary line. */
export function bundleText(res: BundleResult): string {
  const rows = res.manifest.map((a): Cell[] => [a.name, a.version, `${a.os}/${a.arch}`, formatBytes(a.size ?? null), `${a.sha256.slice(0, 12)}…`, a.file]);
  const images = res.manifest.filter((a) => a.image !== undefined).length;
  const files = res.manifest.length - images;
  return (
    `${formatTable(['NAME', 'VERSION', 'PLATFORM', 'SIZE', 'SHA256', 'FILE'], rows)}` +
    `wrote ${res.out}: ${files} file${files === 1 ? '' : 's'} and ${images} image${images === 1 ? '' : 's'}, ${formatBytes(res.size)}, all verified; ` +
    `on the air-gapped side: ballastctl artifacts import ${res.out}\n`
  );
}
