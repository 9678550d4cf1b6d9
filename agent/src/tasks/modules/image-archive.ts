/**
 * What a docker-archive image tarball claims to be, read before `ctr` sees it: exactly one image,
 * tagged with exactly one reference, whose config blob hashes to the image ID, for linux/<arch>.
 * The archive's sha256 has already been checked against the mirror; this ties the bytes to the
 * reference and ID the task names, so a mirror entry cannot get another image imported under a
 * trusted name. Archives `ctr` would read differently are refused: an OCI layout (index.json,
 * oci-layout — ctr prefers it to manifest.json and could import other references), and any tar
 * header beyond plain files and directories (shared/src/ustar.ts says why).
 */
import { createHash } from 'node:crypto';
import { BallastError } from '../../../../shared/src/errors.js';
import { readUstarMember, readUstarMembers, type UstarMember } from '../../../../shared/src/ustar.js';

/** manifest.json and the config are small; anything bigger is not an image we built or docker saved. */
export const MAX_IMAGE_METADATA_BYTES = 1024 * 1024;

/** What the archive is, once checked. */
export interface ImageArchiveFacts {
  ref: string;
  /** `sha256:` + the config blob's digest. */
  id: string;
  os: string;
  arch: string;
}

/** What the task expects the archive to be. */
export interface ExpectedImage {
  ref: string;
  id: string;
  arch: string;
  /** For messages: "image-pause 3.10.2 (amd64)". */
  label: string;
}

interface ManifestEntry {
  Config: string;
  RepoTags: string[];
  Layers: string[];
}

function isManifestEntry(value: unknown): value is ManifestEntry {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const strings = (x: unknown) => Array.isArray(x) && x.every((s) => typeof s === 'string');
  return typeof v.Config === 'string' && strings(v.RepoTags) && strings(v.Layers);
}

/**
 * Checks the archive at `path` against `expected`; throws BALLAST_ERR_IMAGE_MISMATCH naming the
 * difference, or BALLAST_ERR_VALIDATION when it is not a plain docker archive at all.
 */
export async function checkImageArchive(path: string, expected: ExpectedImage): Promise<ImageArchiveFacts> {
  const what = `image archive ${expected.label}`;
  const mismatch = (why: string) =>
    new BallastError('BALLAST_ERR_IMAGE_MISMATCH', `failed to verify ${what}: ${why}; nothing was imported`);
  const members = await readUstarMembers(path, { what });
  const byName = new Map<string, UstarMember>(members.map((m) => [m.name, m]));
  for (const oci of ['index.json', 'oci-layout']) {
    if (byName.has(oci)) throw mismatch(`it has ${oci} (an OCI layout, which ctr reads instead of manifest.json); only docker archives are accepted`);
  }
  const file = (name: string): UstarMember => {
    const m = byName.get(name.replace(/^(\.\/)+/, ''));
    if (m === undefined || m.type !== 'file') throw mismatch(`manifest.json names ${JSON.stringify(name.slice(0, 100))}, which is not a file in the archive`);
    return m;
  };
  let manifest: unknown;
  try {
    manifest = JSON.parse((await readUstarMember(path, file('manifest.json'), MAX_IMAGE_METADATA_BYTES, what)).toString('utf8'));
  } catch (err) {
    if (err instanceof BallastError) throw err;
    throw mismatch('manifest.json is not valid JSON');
  }
  if (!Array.isArray(manifest) || manifest.length !== 1 || !isManifestEntry(manifest[0])) {
    throw mismatch('manifest.json must list exactly one image ({Config, RepoTags, Layers})');
  }
  const entry = manifest[0];
  if (entry.RepoTags.length !== 1 || entry.RepoTags[0] !== expected.ref) {
    throw mismatch(`it is tagged ${JSON.stringify(entry.RepoTags).slice(0, 300)}, the task expects exactly ["${expected.ref}"]`);
  }
  for (const layer of entry.Layers) file(layer);
  const config = await readUstarMember(path, file(entry.Config), MAX_IMAGE_METADATA_BYTES, what);
  const id = `sha256:${createHash('sha256').update(config).digest('hex')}`;
  if (id !== expected.id) throw mismatch(`its image ID (config digest) is ${id}, the task expects ${expected.id}`);
  let platform: { os?: unknown; architecture?: unknown };
  try {
    platform = JSON.parse(config.toString('utf8')) as { os?: unknown; architecture?: unknown };
  } catch {
    throw mismatch('its config is not valid JSON');
  }
  if (platform.os !== 'linux' || platform.architecture !== expected.arch) {
    throw mismatch(`it is for ${String(platform.os)}/${String(platform.architecture)}, the task expects linux/${expected.arch}`);
  }
  return { ref: expected.ref, id, os: 'linux', arch: expected.arch };
}
