/**
 * `ballastctl artifacts sign` and `keygen`, without the command line: signing a bundle means
 * unpacking its manifest and the files it names into a private work dir next to the output,
 * checking every file against the manifest (a signer vouches for what it signs), writing
 * `manifest.yaml.sig` over the manifest's exact bytes, packing manifest, signature and files into a
 * new tar (gzip'd when the input was), and renaming it over the output: an interrupted sign leaves
 * the old file whole. Members the manifest does not name are dropped (the controller ignores them).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { BUNDLE_MANIFEST } from '../../shared/src/artifacts-api.js';
import { extractTar, listTar, normalizeMember, sniffArchive } from '../../shared/src/artifacts-archive.js';
import { BUNDLE_SIGNATURE, generateSigningKeyPair, keyId, parsePrivateKey, signManifest } from '../../shared/src/artifacts-signature.js';
import { writeFileAtomic } from '../../shared/src/atomic-file.js';
import { isBallastError } from '../../shared/src/errors.js';
import { hashFile } from '../../shared/src/hashing.js';
import { MAX_MANIFEST_BYTES, parseManifest } from '../../controller/src/artifacts/manifest.js';
import { CtlError, EXIT_FAILURE, usageError } from './errors.js';

const run = promisify(execFile);

/** What {@link signBundle} did. */
export interface SignResult {
  keyId: string;
  /** How many artifacts the signed manifest lists. */
  artifacts: number;
  out: string;
  /** True when the input already carried a signature (now replaced). */
  replaced: boolean;
}

async function readKey(path: string) {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (err) {
    throw usageError(`cannot read key ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const parsed = parsePrivateKey(data);
  if ('problem' in parsed) throw usageError(`cannot sign with ${path}: it ${parsed.problem}`);
  return parsed.key;
}

/** A bundle that cannot be signed as it is: exit 1, saying what is wrong with it. */
function refuse(bundle: string, why: string): CtlError {
  return new CtlError(`failed to sign ${bundle}: ${why}`, EXIT_FAILURE);
}

/** Signs `bundle` with the private key in `keyFile`, writing the signed bundle to `out` (may be `bundle`). */
export async function signBundle(opts: { bundle: string; keyFile: string; out: string; signal?: AbortSignal }): Promise<SignResult> {
  const { bundle, out, signal } = opts;
  const key = await readKey(opts.keyFile);
  let kind: Awaited<ReturnType<typeof sniffArchive>>;
  try {
    kind = await sniffArchive(bundle);
  } catch (err) {
    throw usageError(`cannot read bundle ${bundle}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (kind === 'file') throw refuse(bundle, 'it is neither a tar nor a tar.gz archive');
  // Next to the output: the final rename stays on one filesystem, so it is atomic.
  let work: string;
  try {
    work = await mkdtemp(join(dirname(out), `.${basename(out)}.sign-`));
  } catch (err) {
    throw usageError(`cannot write next to ${out}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const tarOpts = { what: `bundle ${bundle}`, signal };
    const members = new Map<string, string>();
    for (const stored of await listTar(bundle, kind, tarOpts)) {
      const name = normalizeMember(stored);
      if (!members.has(name)) members.set(name, stored);
    }
    const manifestMember = members.get(BUNDLE_MANIFEST);
    if (manifestMember === undefined) throw refuse(bundle, `it has no ${BUNDLE_MANIFEST} at its top level`);
    const unpacked = join(work, 'unpacked');
    await mkdir(unpacked, { mode: 0o700 });
    await extractTar(bundle, kind, unpacked, [manifestMember], tarOpts);
    const info = await lstat(join(unpacked, manifestMember));
    if (!info.isFile() || info.size > MAX_MANIFEST_BYTES) throw refuse(bundle, `${BUNDLE_MANIFEST} is not a regular file of at most ${MAX_MANIFEST_BYTES} bytes`);
    const bytes = await readFile(join(unpacked, manifestMember));
    const manifest = parseManifest(bytes.toString('utf8'), `${bundle} ${BUNDLE_MANIFEST}`);
    const named = manifest.map((e) => e.file);
    if (named.includes(BUNDLE_SIGNATURE) || named.includes(BUNDLE_MANIFEST)) throw refuse(bundle, `its manifest names ${BUNDLE_MANIFEST} or ${BUNDLE_SIGNATURE} as an artifact file`);
    const missing = named.filter((f) => !members.has(f));
    if (missing.length > 0) throw refuse(bundle, `${BUNDLE_MANIFEST} names files the bundle does not contain: ${missing.join(', ')}`);
    const stored = named.map((f) => members.get(f)!);
    await extractTar(bundle, kind, unpacked, stored, tarOpts);
    // A signature vouches for the files through their hashes: refuse to sign hashes that are wrong.
    const wrong: string[] = [];
    for (const [i, e] of manifest.entries()) {
      const path = join(unpacked, stored[i]!);
      const st = await lstat(path);
      if (!st.isFile()) wrong.push(`${e.file} is not a regular file`);
      else if (e.size !== undefined && st.size !== e.size) wrong.push(`${e.file} is ${st.size} bytes, the manifest says ${e.size}`);
      else {
        const actual = await hashFile(path, signal);
        if (actual !== e.sha256) wrong.push(`${e.file}: the manifest says sha256 ${e.sha256}, the file has ${actual}`);
      }
    }
    if (wrong.length > 0) throw refuse(bundle, `${wrong.join('; ')}; nothing was signed`);
    await writeFile(join(unpacked, BUNDLE_SIGNATURE), signManifest(bytes, key), { mode: 0o644 });
    const tmp = join(work, 'signed');
    const c = kind === 'tar.gz' ? '-czf' : '-cf';
    await run('tar', [c, tmp, '-C', unpacked, '--owner=0', '--group=0', '--', manifestMember, BUNDLE_SIGNATURE, ...stored], { signal });
    await syncFile(tmp);
    await rename(tmp, out);
    await syncFile(dirname(out));
    return { keyId: keyId(key), artifacts: manifest.length, out, replaced: members.has(BUNDLE_SIGNATURE) };
  } catch (err) {
    if (isBallastError(err)) throw refuse(bundle, err.message);
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes a new key pair: `<prefix>.key` (PKCS#8 PEM, 0600) and `<prefix>.pub` (SPKI PEM, 0644).
 * Refuses to overwrite either: a lost signing key cannot be recovered and a replaced one silently
 * invalidates every trust configuration.
 */
export async function generateKeyFiles(prefix: string): Promise<{ keyFile: string; pubFile: string; keyId: string }> {
  const keyFile = `${prefix}.key`;
  const pubFile = `${prefix}.pub`;
  for (const f of [keyFile, pubFile]) if (existsSync(f)) throw usageError(`${f} exists; choose another --out prefix or remove it first`);
  const pair = generateSigningKeyPair();
  await writeFileAtomic(keyFile, pair.privatePem, 0o600);
  await writeFileAtomic(pubFile, pair.publicPem, 0o644);
  return { keyFile, pubFile, keyId: pair.id };
}
