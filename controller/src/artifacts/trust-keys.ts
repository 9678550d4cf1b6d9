/**
 * Loading the controller's artifact signing keys (`--artifact-trust-key FILE`, repeatable): the
 * public keys whose signature lets an admin import artifacts the built-in catalogue does not pin
 * (trust.ts). Keys are files an admin places on the controller host; no API adds one, so an
 * operator token can never widen what is trusted. Read once at start; a bad key stops the start.
 */
import { lstat, readFile } from 'node:fs/promises';
import { MAX_KEY_FILE_BYTES, parsePublicKey, type TrustKey, keyId } from '../../../shared/src/artifacts-signature.js';
import { BallastError } from '../../../shared/src/errors.js';

/** Where the key files are read from (a port, so tests can use real files in a temp dir). */
export interface TrustKeyFiles {
  stat(path: string): Promise<{ isFile(): boolean; mode: number; size: number }>;
  read(path: string): Promise<Buffer>;
}

const realFiles: TrustKeyFiles = { stat: (p) => lstat(p), read: (p) => readFile(p) };

/**
 * Reads every key file and reports all problems at once (BALLAST_ERR_CONFIG, one line per flag):
 * a missing or unreadable file, one that is not a regular file, one writable by group or others
 * (anyone who can write it can make the controller trust their key), one that is not an ed25519
 * public key, and the same key given twice.
 */
export async function loadTrustKeys(paths: readonly string[], files: TrustKeyFiles = realFiles): Promise<TrustKey[]> {
  const problems: string[] = [];
  const keys: TrustKey[] = [];
  for (const [i, path] of paths.entries()) {
    const flag = `--artifact-trust-key[${i}] ${path}`;
    let data: Buffer;
    try {
      const st = await files.stat(path);
      if (!st.isFile()) {
        problems.push(`${flag}: not a regular file (symlinks are not followed: name the key file itself)`);
        continue;
      }
      if ((st.mode & 0o022) !== 0) {
        problems.push(`${flag}: writable by group or others (mode ${(st.mode & 0o777).toString(8)}); chmod 0644 or tighter`);
        continue;
      }
      if (st.size > MAX_KEY_FILE_BYTES) {
        problems.push(`${flag}: larger than ${MAX_KEY_FILE_BYTES} bytes`);
        continue;
      }
      data = await files.read(path);
    } catch (err) {
      problems.push(`${flag}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      continue;
    }
    const parsed = parsePublicKey(data);
    if ('problem' in parsed) {
      problems.push(`${flag}: ${parsed.problem}`);
      continue;
    }
    const id = keyId(parsed.key);
    const twin = keys.find((k) => k.id === id);
    if (twin !== undefined) problems.push(`${flag}: the same key as ${twin.source} (key id ${id})`);
    else keys.push({ id, key: parsed.key, source: path });
  }
  if (problems.length > 0) {
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to load the artifact trust keys: ${problems.join('; ')}`);
  }
  return keys;
}
