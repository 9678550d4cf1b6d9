/**
 * The sealed snapshot bundle, whatever its format: {@link openSealedSnapshot} reads the format
 * number (byte 6) and hands the file to its reader — format 2 (sealed-v2.ts, chunked AEAD, written
 * by the controller since the single-pass seal) or format 1 (sealed-v1.ts, one GCM stream, read so
 * older bundles stay restorable). Both throw BALLAST_ERR_SNAPSHOT_INVALID on any doubt and leave
 * nothing at `dbOutPath` when they do.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { CHUNK, MAGIC_PREFIX, type OpenedInfo, type OpenOptions } from './sealed-format.js';
import { openSealedV1 } from './sealed-v1.js';
import { openSealedV2 } from './sealed-v2.js';

export type { OpenedInfo, SealedInfo } from './sealed-format.js';

/** sha256 of a whole file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The format number of a sealed file (its byte 6), or null when it does not start with the magic. */
export async function sealedFormat(path: string): Promise<number | null> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to open snapshot ${path}: ${messageOf(err)}`, { cause: err });
  }
  try {
    const head = Buffer.alloc(8);
    const { bytesRead } = await fh.read(head, 0, 8, 0);
    if (bytesRead < 8 || !head.subarray(0, MAGIC_PREFIX.length).equals(MAGIC_PREFIX)) return null;
    return head[6] ?? null;
  } finally {
    await fh.close();
  }
}

/** Decrypts and checks a sealed snapshot of any known format; see the file comment. */
export async function openSealedSnapshot(opts: OpenOptions): Promise<OpenedInfo> {
  const format = await sealedFormat(opts.sealedPath);
  if (format === 2) return openSealedV2(opts);
  if (format === 1) return openSealedV1(opts);
  throw new BallastError(
    'BALLAST_ERR_SNAPSHOT_INVALID',
    `failed to open snapshot ${opts.sealedPath}: ${format === null ? 'not a Ballast snapshot (bad magic)' : `unknown format ${format} (this controller reads formats 1 and 2)`}`,
  );
}
