/**
 * Format 1 of the sealed snapshot bundle (the format written before format 2, sealed-v2.ts): still
 * read, so bundles sealed by earlier versions stay restorable; no longer written by the controller
 * ({@link sealSnapshotV1} remains so tests can prove format-1 files still open). One file holding
 * the restore bundle (JSON: PKI, spec …) and the etcd database, encrypted with AES-256-GCM as one
 * stream.
 *
 * Layout: `BSNAP\0\1\0` (8 bytes magic + format 1) · 12-byte random IV · ciphertext · 16-byte GCM
 * tag. The 20 header bytes are the GCM additional data, so a changed header fails too. The
 * plaintext is a 4-byte big-endian length, the bundle JSON, then the database bytes.
 *
 * Opening decrypts into a private (0600) file and only then checks the tag (GCM cannot say a
 * stream is genuine before its end): on any failure the plaintext is deleted and the error is
 * BALLAST_ERR_SNAPSHOT_INVALID, so one flipped byte anywhere makes the snapshot unusable, never
 * silently wrong. The database's sha256 is recomputed on the way and compared by the caller.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { CHUNK, MAX_BUNDLE_JSON_BYTES, type OpenedInfo, type OpenOptions, type SealedInfo } from './sealed-format.js';

const MAGIC = Buffer.from([0x42, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x01, 0x00]);
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = MAGIC.length + IV_BYTES;

/** Encrypts `bundleJson` + the database at `dbPath` into `outPath` in format 1 (temp file, fsync, rename). */
export async function sealSnapshotV1(opts: { key: Buffer; bundleJson: string; dbPath: string; outPath: string }): Promise<SealedInfo> {
  const iv = randomBytes(IV_BYTES);
  const header = Buffer.concat([MAGIC, iv]);
  const cipher = createCipheriv('aes-256-gcm', opts.key, iv);
  cipher.setAAD(header);
  const bundle = Buffer.from(opts.bundleJson, 'utf8');
  if (bundle.length > MAX_BUNDLE_JSON_BYTES) throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to seal snapshot: its bundle is ${bundle.length} bytes`);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(bundle.length);
  const tmp = `${opts.outPath}.${randomBytes(4).toString('hex')}.tmp`;
  const hash = createHash('sha256');
  const out = createWriteStream(tmp, { mode: 0o600, flags: 'wx' });
  const tee = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      done(null, chunk);
    },
  });
  async function* plaintext(): AsyncGenerator<Buffer> {
    yield len;
    yield bundle;
    for await (const chunk of createReadStream(opts.dbPath, { highWaterMark: CHUNK })) yield chunk as Buffer;
  }
  async function* sealed(): AsyncGenerator<Buffer> {
    yield header;
    for await (const chunk of plaintext()) yield cipher.update(chunk);
    yield cipher.final();
    yield cipher.getAuthTag();
  }
  try {
    await pipeline(sealed(), tee, out);
    const fh = await open(tmp, 'r');
    await fh.sync();
    await fh.close();
    await rename(tmp, opts.outPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new BallastError('BALLAST_ERR_IO', `failed to seal snapshot into ${opts.outPath}: ${messageOf(err)}`, { cause: err });
  }
  return { sha256: hash.digest('hex'), size: (await stat(opts.outPath)).size };
}

/**
 * Decrypts `sealedPath`, writing the database to `dbOutPath` (0600) unless it is null (a verify
 * that only needs the checks). Throws BALLAST_ERR_SNAPSHOT_INVALID on a bad header, a tag
 * mismatch (wrong key or changed bytes) or a malformed plaintext, deleting what it wrote.
 */
export async function openSealedV1(opts: OpenOptions): Promise<OpenedInfo> {
  const invalid = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to open snapshot ${opts.sealedPath}: ${why}`, cause === undefined ? {} : { cause });
  const size = (await stat(opts.sealedPath)).size;
  if (size < HEADER_BYTES + TAG_BYTES + 4) throw invalid(`it is ${size} bytes, too short to be a sealed snapshot`);
  const fh = await open(opts.sealedPath, 'r');
  const header = Buffer.alloc(HEADER_BYTES);
  const tag = Buffer.alloc(TAG_BYTES);
  try {
    await fh.read(header, 0, HEADER_BYTES, 0);
    await fh.read(tag, 0, TAG_BYTES, size - TAG_BYTES);
  } finally {
    await fh.close();
  }
  if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid('not a Ballast snapshot (bad magic or unknown format version)');
  const decipher = createDecipheriv('aes-256-gcm', opts.key, header.subarray(MAGIC.length));
  decipher.setAAD(header);
  decipher.setAuthTag(tag);
  const dbHash = createHash('sha256');
  let dbSize = 0;
  let head = Buffer.alloc(0);
  let bundleLen = -1;
  let bundleJson = '';
  const out = opts.dbOutPath === null ? null : createWriteStream(opts.dbOutPath, { mode: 0o600, flags: 'w' });
  const split = new Transform({
    transform(chunk: Buffer, _enc, done) {
      let rest = chunk;
      if (bundleLen < 0 || head.length < 4 + bundleLen) {
        head = Buffer.concat([head, rest]);
        if (bundleLen < 0 && head.length >= 4) {
          bundleLen = head.readUInt32BE(0);
          if (bundleLen > MAX_BUNDLE_JSON_BYTES) return done(invalid(`decryption failed (wrong key, or the file was changed): its bundle length reads ${bundleLen} bytes`));
        }
        if (bundleLen < 0 || head.length < 4 + bundleLen) return done();
        bundleJson = head.subarray(4, 4 + bundleLen).toString('utf8');
        rest = head.subarray(4 + bundleLen);
      }
      dbHash.update(rest);
      dbSize += rest.length;
      done(null, out === null ? undefined : rest);
    },
  });
  const body = createReadStream(opts.sealedPath, { start: HEADER_BYTES, end: size - TAG_BYTES - 1, highWaterMark: CHUNK });
  try {
    if (out === null) {
      await pipeline(body, decipher, split, async (source: AsyncIterable<unknown>) => {
        for await (const _ of source);
      });
    } else {
      await pipeline(body, decipher, split, out);
    }
  } catch (err) {
    if (opts.dbOutPath !== null) await rm(opts.dbOutPath, { force: true });
    if (err instanceof BallastError) throw err;
    throw invalid(`decryption failed (wrong key, or the file was changed or truncated): ${messageOf(err)}`, err);
  }
  if (bundleLen < 0 || bundleJson === '') {
    if (opts.dbOutPath !== null) await rm(opts.dbOutPath, { force: true });
    throw invalid('it holds no bundle');
  }
  return { dbSha256: dbHash.digest('hex'), dbSize, bundleJson };
}
