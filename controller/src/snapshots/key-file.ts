/**
 * The snapshot encryption key: 32 random bytes, stored hex-encoded in a file of its own
 * (`--snapshot-key FILE`, default {@link DEFAULT_SNAPSHOT_KEY_PATH}).
 *
 * Where it lives, decided: NOT beside the snapshots (<data dir>/snapshots) nor in the data dir at
 * all, so that a copy of the data dir, or of the S3 bucket, is not enough to read the bundles (they
 * carry the cluster's CA keys). The default is under /etc/ballast, the controller host's
 * configuration tree; the key must additionally be kept somewhere safe off the host (a password
 * manager, a sealed envelope): restoring onto new hosts from an S3 copy needs it, and Ballast
 * cannot recover it. The first use generates it (0600, atomic write) and logs a warning saying so.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';
import { BallastError, messageOf } from '../../../shared/src/errors.js';

/** Default key path: outside the controller's data dir on purpose (see the file comment). */
export const DEFAULT_SNAPSHOT_KEY_PATH = '/etc/ballast/snapshot.key';

const KEY_HEX = /^[0-9a-f]{64}$/;

/** Reads the key; generates it when the file is absent and `generate` is set. Throws BALLAST_ERR_SNAPSHOT_KEY. */
export async function loadSnapshotKey(opts: { path: string; generate: boolean; log: Logger }): Promise<Buffer> {
  let text: string;
  try {
    text = await readFile(opts.path, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    if (!missing || !opts.generate) {
      throw new BallastError('BALLAST_ERR_SNAPSHOT_KEY', `failed to read the snapshot key ${opts.path}: ${messageOf(err)}`, { cause: err });
    }
    const key = randomBytes(32);
    try {
      await writeFileAtomic(opts.path, `${key.toString('hex')}\n`, 0o600);
    } catch (writeErr) {
      throw new BallastError('BALLAST_ERR_SNAPSHOT_KEY', `failed to create the snapshot key ${opts.path}: ${messageOf(writeErr)}`, { cause: writeErr });
    }
    opts.log.warn({ path: opts.path }, 'generated a new snapshot encryption key: copy it somewhere safe off this host, restores from an off-host copy need it');
    return key;
  }
  const hex = text.trim().toLowerCase();
  if (!KEY_HEX.test(hex)) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_KEY', `failed to read the snapshot key ${opts.path}: it must hold 64 hex digits (32 bytes), e.g. from \`openssl rand -hex 32\``);
  }
  return Buffer.from(hex, 'hex');
}
