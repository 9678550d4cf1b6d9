/**
 * Receiving an offline bundle: the upload is streamed to a work dir under a size bound, its
 * manifest is read, only the files the manifest names are unpacked with the system tar, and every
 * one is hashed. Any mismatch refuses the whole bundle; the caller commits only a fully verified one.
 */
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { type ArtifactSpec, artifactLabel, BUNDLE_MANIFEST } from '../../../shared/src/artifacts-api.js';
import { BUNDLE_SIGNATURE, MAX_SIGNATURE_BYTES } from '../../../shared/src/artifacts-signature.js';
import { extractTar, listTar, normalizeMember, sniffArchive, tarStreamBytes, unpackBound, writeStreamToFile } from '../../../shared/src/artifacts-archive.js';
import { hashFile } from '../../../shared/src/hashing.js';
import { BallastError, isBallastError, messageOf } from '../../../shared/src/errors.js';
import { MAX_MANIFEST_BYTES, parseManifest } from './manifest.js';
import { checkTrust, type ImportTrust, type TrustReport } from './trust.js';

/** A verified file waiting in a work dir to be moved into the mirror. `spec.file` is its mirror file name. */
export interface StagedArtifact {
  spec: ArtifactSpec;
  /** The verified file in the work dir. */
  path: string;
  size: number;
}

/** Options of {@link stageBundle}. */
export interface StageBundleOptions {
  /** The bundle bytes (tar or tar.gz), e.g. the request body. */
  source: NodeJS.ReadableStream;
  /** An empty directory owned by this import; the caller removes it afterwards. */
  workDir: string;
  maxBytes: number;
  signal?: AbortSignal;
  /** Who imports: decides which artifacts are trusted (trust.ts). */
  trust: ImportTrust;
}

/** A verified bundle, and what vouched for its unpinned artifacts (for the log). */
export interface StagedBundle {
  staged: StagedArtifact[];
  trust: TrustReport;
}

function invalid(why: string, path?: string): BallastError {
  return new BallastError('BALLAST_ERR_VALIDATION', `failed to import bundle: ${why}`, path === undefined ? {} : { path });
}

/**
 * Streams the bundle to `workDir`, unpacks and verifies it. Throws BALLAST_ERR_VALIDATION for a
 * malformed bundle (naming what is wrong) and BALLAST_ERR_CHECKSUM_MISMATCH naming every artifact
 * whose file does not hash to the manifest's sha256, with the expected and the actual hash.
 */
export async function stageBundle(opts: StageBundleOptions): Promise<StagedBundle> {
  const { workDir, signal } = opts;
  const bundle = join(workDir, 'bundle');
  let size: number;
  try {
    ({ size } = await writeStreamToFile(opts.source, bundle, { maxBytes: opts.maxBytes, signal, what: 'bundle upload' }));
  } catch (err) {
    if (isBallastError(err)) throw err;
    // Typically the client went away mid-upload; the socket is gone, so this is only logged.
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to import bundle: the upload did not complete: ${messageOf(err)}`, { cause: err });
  }
  if (size === 0) throw invalid('the upload is empty');
  const kind = await sniffArchive(bundle);
  if (kind === 'file') throw invalid('the upload is neither a tar nor a tar.gz archive');
  // Until the manifest is read, only the expansion-ratio cap bounds decompression (artifacts-archive.ts).
  const tarOpts = { what: 'bundle', signal, maxUnpackedBytes: unpackBound(size) };

  // Stored member names may carry "./"; the manifest never does.
  const members = new Map<string, string>();
  for (const stored of await listTar(bundle, kind, tarOpts)) {
    const name = normalizeMember(stored);
    if (!members.has(name)) members.set(name, stored);
  }
  const manifestMember = members.get(BUNDLE_MANIFEST);
  if (manifestMember === undefined) throw invalid(`it has no ${BUNDLE_MANIFEST} at its top level`);
  const signatureMember = members.get(BUNDLE_SIGNATURE);

  const unpacked = join(workDir, 'unpacked');
  await mkdir(unpacked, { mode: 0o700 });
  // The manifest and its signature only: nothing the manifest names is unpacked before trust is decided.
  const head = signatureMember === undefined ? [manifestMember] : [manifestMember, signatureMember];
  await extractTar(bundle, kind, unpacked, head, tarOpts);
  const manifestPath = join(unpacked, manifestMember);
  const info = await lstat(manifestPath);
  if (!info.isFile()) throw invalid(`${BUNDLE_MANIFEST} is not a regular file`);
  if (info.size > MAX_MANIFEST_BYTES) throw invalid(`${BUNDLE_MANIFEST} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  // The signature is over these exact bytes; the parser reads the same bytes as text.
  const manifestBytes = await readFile(manifestPath);
  const manifest = parseManifest(manifestBytes.toString('utf8'), `bundle ${BUNDLE_MANIFEST}`);
  const signature = signatureMember === undefined ? null : await readSignature(join(unpacked, signatureMember));
  // Trust before anything else is unpacked: an untrusted bundle never touches the disk further.
  const trust = checkTrust(manifest, { bytes: manifestBytes, signature }, opts.trust);

  const missing = manifest.map((e, i) => ({ e, i })).filter(({ e }) => !members.has(e.file));
  if (missing.length > 0) {
    const first = missing[0]!;
    throw invalid(
      `${BUNDLE_MANIFEST} names files the bundle does not contain: ${missing.map(({ e }) => `${e.file} (${artifactLabel(e)})`).join(', ')}`,
      `/${first.i}/file`,
    );
  }
  // Unpack only what the manifest names: whatever else the tarball holds never touches the disk. With
  // sizes declared, the whole stream may not decompress to more than they add up to.
  const declared = manifest.every((e) => e.size !== undefined) ? tarStreamBytes([info.size, ...manifest.map((e) => e.size ?? 0)]) : undefined;
  const bound = declared === undefined ? tarOpts.maxUnpackedBytes : Math.min(declared, tarOpts.maxUnpackedBytes);
  await extractTar(bundle, kind, unpacked, manifest.map((e) => members.get(e.file)!), { ...tarOpts, maxUnpackedBytes: bound });

  const staged: StagedArtifact[] = [];
  const mismatches: string[] = [];
  for (const e of manifest) {
    const path = join(unpacked, members.get(e.file)!);
    const st = await lstat(path);
    if (!st.isFile()) throw invalid(`${e.file} (${artifactLabel(e)}) is not a regular file in the bundle`);
    if (e.size !== undefined && st.size !== e.size) throw invalid(`${e.file} (${artifactLabel(e)}) is ${st.size} bytes, the manifest says ${e.size}`);
    const actual = await hashFile(path, signal);
    if (actual !== e.sha256) mismatches.push(`artifact ${artifactLabel(e)} file ${e.file}: expected sha256 ${e.sha256}, got ${actual}`);
    staged.push({ spec: { ...e, file: basename(e.file) }, path, size: st.size });
  }
  if (mismatches.length > 0) {
    throw new BallastError('BALLAST_ERR_CHECKSUM_MISMATCH', `failed to import bundle: ${mismatches.join('; ')}; nothing was imported`);
  }
  return { staged, trust };
}

/** The text of the bundle's `manifest.yaml.sig`, refused when it is not a small regular file. */
async function readSignature(path: string): Promise<string> {
  const st = await lstat(path);
  if (!st.isFile()) throw invalid(`${BUNDLE_SIGNATURE} is not a regular file`);
  if (st.size > MAX_SIGNATURE_BYTES) throw invalid(`${BUNDLE_SIGNATURE} is larger than ${MAX_SIGNATURE_BYTES} bytes`);
  return readFile(path, 'utf8');
}
