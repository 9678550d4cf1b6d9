/**
 * The `image` module's view of containerd, through `ctr` run by the agent's ExecPort (argv only).
 * Everything happens in the `k8s.io` namespace, the one kubelet's CRI plugin uses.
 *
 * The image ID of a reference is read as containerd stores it: `ctr images check name==REF` gives
 * the target digest and whether all content is present, `ctr content get DIGEST` the manifest (or
 * index, then the linux/<arch> manifest), whose `config.digest` is the image ID — the same value
 * `crictl images` shows, and the one thing that stays the same whatever manifest containerd built
 * on import (`ctr images ls` shows the manifest digest, which is containerd's, not the archive's).
 */
import { BallastError } from '../../../../shared/src/errors.js';
import { IMAGE_ID_PATTERN } from '../../../../shared/src/images.js';
import { tail } from '../../host/exec.js';
import type { ExecPort } from '../../host/ports.js';

/** containerd's CRI namespace. */
export const K8S_NAMESPACE = 'k8s.io';
/** How long ctr may try to reach containerd before it gives up. */
const CONNECT_TIMEOUT = '5s';
/** Queries are quick; an import of a 100 MB image takes seconds, so minutes is generous. */
const QUERY_TIMEOUT_MS = 60_000;
const IMPORT_TIMEOUT_MS = 10 * 60_000;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];

/** Where and how to reach containerd. */
export interface Ctr {
  exec: ExecPort;
  /** The ctr binary. */
  binary: string;
  /** containerd's socket as the host sees it. */
  address: string;
  signal: AbortSignal;
}

/** stderr of a ctr that could not reach containerd (ctr has no exit codes to tell this apart). */
const UNREACHABLE = /failed to dial|connection refused/i;

async function ctr(c: Ctr, args: string[], what: string, timeoutMs = QUERY_TIMEOUT_MS): Promise<string> {
  const argv = [c.binary, '--address', c.address, '--connect-timeout', CONNECT_TIMEOUT, '--namespace', K8S_NAMESPACE, ...args];
  const result = await c.exec(argv, { timeoutMs, signal: c.signal });
  if (result.code === 0) return result.stdout;
  const why = tail(result.stderr || result.stdout, 5, 600);
  if (UNREACHABLE.test(result.stderr)) {
    throw new BallastError('BALLAST_ERR_CONTAINERD_UNAVAILABLE', `failed to ${what}: containerd does not answer on ${c.address}: ${why}`);
  }
  throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to ${what}: ${c.binary} exited ${result.code}: ${why}`);
}

/** What containerd holds under a reference. */
export interface PresentImage {
  /** The image ID, or null when the content is incomplete (a re-import completes it). */
  id: string | null;
  /** `complete`, `incomplete`, … as `ctr images check` says. */
  status: string;
}

/** The image containerd has under `ref` in k8s.io, or null when it has none. */
export async function presentImage(c: Ctr, ref: string, arch: string): Promise<PresentImage | null> {
  const out = await ctr(c, ['images', 'check', `name==${ref}`], `look up image ${ref} in containerd`);
  // Columns: REF TYPE DIGEST STATUS SIZE UNPACKED; STATUS is e.g. "complete (2/2)".
  const line = out.split('\n').find((l) => l.split(/\s+/)[0] === ref);
  if (line === undefined) return null;
  const [, type, digest, status = ''] = line.trim().split(/\s+/);
  if (digest === undefined || !DIGEST.test(digest)) {
    throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to look up image ${ref} in containerd: unexpected ctr output ${JSON.stringify(line.slice(0, 200))}`);
  }
  if (status !== 'complete') return { id: null, status };
  return { id: await configDigest(c, ref, digest, type ?? '', arch), status };
}

/** The config digest under manifest or index `digest`; one index level is followed (to linux/<arch>). */
async function configDigest(c: Ctr, ref: string, digest: string, type: string, arch: string): Promise<string> {
  const doc = await blobJson(c, ref, digest);
  const manifests = doc.manifests;
  if (INDEX_TYPES.includes(type) || Array.isArray(manifests)) {
    const list = Array.isArray(manifests) ? (manifests as { digest?: unknown; platform?: { os?: unknown; architecture?: unknown } }[]) : [];
    const match = list.find((m) => m.platform?.os === 'linux' && m.platform.architecture === arch && typeof m.digest === 'string' && DIGEST.test(m.digest));
    if (match === undefined) {
      throw new BallastError('BALLAST_ERR_IMAGE_MISMATCH', `failed to read image ${ref} in containerd: its index has no linux/${arch} manifest`);
    }
    return configOf(await blobJson(c, ref, match.digest as string), ref);
  }
  return configOf(doc, ref);
}

function configOf(manifest: Record<string, unknown>, ref: string): string {
  const config = manifest.config as { digest?: unknown } | undefined;
  if (typeof config?.digest !== 'string' || !new RegExp(IMAGE_ID_PATTERN).test(config.digest)) {
    throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to read image ${ref} in containerd: its manifest has no sha256 config digest`);
  }
  return config.digest;
}

async function blobJson(c: Ctr, ref: string, digest: string): Promise<Record<string, unknown>> {
  const text = await ctr(c, ['content', 'get', digest], `read the manifest of image ${ref} from containerd`);
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // Reported below.
  }
  throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to read image ${ref} from containerd: blob ${digest} is not a JSON manifest`);
}

/** `ctr images import --platform linux/<arch> FILE` into k8s.io (unpacked for the default snapshotter). */
export async function importArchive(c: Ctr, file: string, ref: string, arch: string): Promise<void> {
  await ctr(c, ['images', 'import', '--platform', `linux/${arch}`, file], `import image ${ref} into containerd`, IMPORT_TIMEOUT_MS);
}
