/**
 * Format 2 of the sealed snapshot bundle: chunked AEAD, so sealing happens while the database
 * streams in from the agent (one pass, no plaintext file on the controller) and opening releases
 * only bytes whose tag has already been checked.
 *
 * Layout (all integers big-endian):
 *
 *   header (28 bytes)  `BSNAP\0` · 0x02 · 0x00 · key id (8) · nonce prefix (7, random) · 0x00 ·
 *                      segment size (u32, 1 MiB)
 *   segment*           length (u32: bit 31 = final, low 31 bits = plaintext length) ·
 *                      ciphertext · 16-byte GCM tag
 *
 * Each segment is AES-256-GCM with nonce = prefix · segment index (u32) · final flag (1 byte) and
 * additional data = header · its length field (the STREAM construction of Hoang, Reyhanitabar,
 * Rogaway and Vizár): a changed, dropped, reordered or duplicated segment, a changed header or a
 * moved final flag all fail a tag. Data segments hold the etcd database (at most the segment size
 * each); the one final segment holds the restore bundle JSON — it goes last because the bundle
 * records the database's sha256 and revision, known only once the upload has ended. A file that
 * ends before its final segment is truncated, bytes after it are refused.
 *
 * The key id is the first 8 bytes of HMAC-SHA256(key, "ballast snapshot key id"): it tells "sealed
 * with another key" apart from "changed" without revealing anything about the key.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { type FileHandle, open, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { HashWriter } from './hash-writer.js';
import { CHUNK, MAGIC_PREFIX, MAX_BUNDLE_JSON_BYTES, type OpenedInfo, type OpenOptions, type SealedInfo } from './sealed-format.js';

const MAGIC = Buffer.concat([MAGIC_PREFIX, Buffer.from([0x02, 0x00])]);
const HEADER_BYTES = 28;
const TAG_BYTES = 16;
const FINAL_BIT = 0x8000_0000;
/** The largest segment size a reader accepts (the header says which one the writer used). */
const MAX_SEGMENT_BYTES = 16 * 1024 * 1024;
/** Written bytes between background flushes, so the final fsync has little left to write. */
const FLUSH_EVERY = 32 * 1024 * 1024;

/** The 8-byte key id written in the header (see the file comment). */
export function keyIdOf(key: Buffer): Buffer {
  return createHmac('sha256', key).update('ballast snapshot key id').digest().subarray(0, 8);
}

function nonceOf(prefix: Buffer, index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0, 0, 7);
  nonce.writeUInt32BE(index, 7);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/**
 * Seals one snapshot as it streams in: {@link sink} takes the database bytes (the upload route
 * pipes the agent's PUT into it), {@link finish} appends the bundle, fsyncs and renames the
 * temporary file into place; {@link abort} deletes it. Encrypting a segment overlaps the write of
 * the one before it.
 */
export class SealWriter {
  readonly #key: Buffer;
  readonly #header: Buffer;
  readonly #prefix: Buffer;
  readonly #fh: FileHandle;
  readonly #tmp: string;
  readonly #buf: Buffer;
  readonly #hash = createHash('sha256');
  #fill = 0;
  #index = 0;
  #size = 0;
  #inflight: Promise<unknown> = Promise.resolve();
  #unflushed = 0;
  readonly #flushes: Promise<unknown>[] = [];
  #closed = false;

  private constructor(o: { key: Buffer; header: Buffer; fh: FileHandle; tmp: string; segmentBytes: number }) {
    this.#key = o.key;
    this.#header = o.header;
    this.#prefix = o.header.subarray(16, 23);
    this.#fh = o.fh;
    this.#tmp = o.tmp;
    this.#buf = Buffer.allocUnsafe(o.segmentBytes);
  }

  /** Creates a temporary file (0600) in `dir` (where the sealed file will be) and writes the header. */
  static async create(opts: { key: Buffer; dir: string; segmentBytes?: number }): Promise<SealWriter> {
    const segmentBytes = opts.segmentBytes ?? CHUNK;
    if (segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to seal snapshot: segment size ${segmentBytes} is out of range`);
    const header = Buffer.alloc(HEADER_BYTES);
    MAGIC.copy(header, 0);
    keyIdOf(opts.key).copy(header, 8);
    randomBytes(7).copy(header, 16);
    header.writeUInt32BE(segmentBytes, 24);
    const tmp = join(opts.dir, `.seal-${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    const w = new SealWriter({ key: opts.key, header, fh, tmp, segmentBytes });
    w.#queue([header]);
    return w;
  }

  /** A Writable for the database bytes; ending it flushes the last data segment, not the bundle. */
  sink(): Writable {
    return new Writable({
      highWaterMark: CHUNK,
      write: (chunk: Buffer, _enc, done) => {
        this.#push(chunk).then(() => done(), done);
      },
      final: (done) => {
        this.#flushData().then(() => done(), done);
      },
    });
  }

  /** Appends the bundle as the final segment, fsyncs, renames to `outPath`; resolves with the sealed file's sha256 and size. */
  async finish(bundleJson: string, outPath: string): Promise<SealedInfo> {
    const bundle = Buffer.from(bundleJson, 'utf8');
    if (bundle.length > MAX_BUNDLE_JSON_BYTES) {
      await this.abort();
      throw new BallastError('BALLAST_ERR_TOO_LARGE', `failed to seal snapshot: its bundle is ${bundle.length} bytes`);
    }
    try {
      await this.#flushData();
      this.#segment(bundle, true);
      await this.#inflight;
      await Promise.all(this.#flushes);
      await this.#fh.sync();
      this.#closed = true;
      await this.#fh.close();
      await rename(this.#tmp, outPath);
      const dir = await open(dirname(outPath), 'r');
      await dir.sync().finally(() => dir.close());
    } catch (err) {
      await this.abort();
      throw new BallastError('BALLAST_ERR_IO', `failed to seal snapshot into ${outPath}: ${messageOf(err)}`, { cause: err });
    }
    return { sha256: this.#hash.digest('hex'), size: this.#size };
  }

  /** Closes and deletes the temporary file (safe to call twice, and after a failed finish). */
  async abort(): Promise<void> {
    await this.#inflight.catch(() => undefined);
    await Promise.allSettled(this.#flushes);
    if (!this.#closed) {
      this.#closed = true;
      await this.#fh.close().catch(() => undefined);
    }
    await rm(this.#tmp, { force: true });
  }

  async #push(chunk: Buffer): Promise<void> {
    let at = 0;
    while (at < chunk.length) {
      const n = Math.min(chunk.length - at, this.#buf.length - this.#fill);
      chunk.copy(this.#buf, this.#fill, at, at + n);
      this.#fill += n;
      at += n;
      if (this.#fill === this.#buf.length) {
        // Encrypt this segment while the previous one is written; wait for that write (backpressure).
        const before = this.#inflight;
        this.#segment(this.#buf, false);
        await before;
      }
    }
  }

  async #flushData(): Promise<void> {
    if (this.#fill > 0) this.#segment(this.#buf.subarray(0, this.#fill), false);
    await this.#inflight;
  }

  /** Encrypts one segment (copying out of `plain`, which the caller reuses) and queues its write. */
  #segment(plain: Buffer, final: boolean): void {
    if (this.#closed) throw new BallastError('BALLAST_ERR_IO', `failed to seal snapshot ${this.#tmp}: it was already closed`);
    const lenField = Buffer.alloc(4);
    lenField.writeUInt32BE(plain.length + (final ? FINAL_BIT : 0));
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonceOf(this.#prefix, this.#index, final));
    cipher.setAAD(Buffer.concat([this.#header, lenField]));
    const ct = cipher.update(plain);
    cipher.final();
    this.#queue([lenField, ct, cipher.getAuthTag()]);
    this.#index += 1;
    this.#fill = 0;
  }

  #queue(parts: Buffer[]): void {
    for (const p of parts) {
      this.#hash.update(p);
      this.#size += p.length;
      this.#unflushed += p.length;
    }
    const previous = this.#inflight;
    const next = previous.then(() => this.#fh.writev(parts));
    next.catch(() => undefined); // observed by the next await of #inflight
    this.#inflight = next;
    if (this.#unflushed >= FLUSH_EVERY) {
      // Flush what is written so far in the background (alongside the next writes), not all at the end.
      this.#unflushed = 0;
      const flush = next.then(() => this.#fh.datasync());
      flush.catch(() => undefined); // awaited in finish
      this.#flushes.push(flush);
    }
  }
}

/** Reads `len` bytes at `pos` (fewer at the end of the file). */
async function readAt(fh: FileHandle, pos: number, len: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const { bytesRead } = await fh.read(buf, got, len - got, pos + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return buf.subarray(0, got);
}

/**
 * Opens a format-2 file: checks every segment's tag before its bytes are hashed or written to
 * `dbOutPath` (0600), reads the next segment while decrypting this one, and throws
 * BALLAST_ERR_SNAPSHOT_INVALID — deleting what it wrote — for another key, a changed byte anywhere,
 * a truncated file or trailing bytes.
 */
export async function openSealedV2(opts: OpenOptions): Promise<OpenedInfo> {
  const invalid = (why: string, cause?: unknown) =>
    new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to open snapshot ${opts.sealedPath}: ${why}`, cause === undefined ? {} : { cause });
  const fh = await open(opts.sealedPath, 'r');
  let out: HashWriter | null = null;
  try {
    const size = (await fh.stat()).size;
    const header = await readAt(fh, 0, HEADER_BYTES);
    if (header.length < HEADER_BYTES) throw invalid(`it is truncated: ${size} bytes, shorter than its header`);
    if (!header.subarray(0, 8).equals(MAGIC)) throw invalid('not a format-2 Ballast snapshot');
    const keyId = keyIdOf(opts.key);
    if (!header.subarray(8, 16).equals(keyId)) {
      throw invalid(`it was sealed with a different key (key id ${header.subarray(8, 16).toString('hex')}; this controller's key id is ${keyId.toString('hex')})`);
    }
    const prefix = header.subarray(16, 23);
    const segmentBytes = header.readUInt32BE(24);
    if (segmentBytes < 1 || segmentBytes > MAX_SEGMENT_BYTES) throw invalid(`its header names a segment size of ${segmentBytes} bytes`);
    // Hashing and writing run on a second thread (hash-writer.ts), fed only checked segments.
    out = HashWriter.start(opts.dbOutPath);
    const frameMax = 4 + segmentBytes + TAG_BYTES;
    let pos = HEADER_BYTES;
    let index = 0;
    let next: Promise<Buffer> | null = pos < size ? readAt(fh, pos, frameMax) : null;
    while (next !== null) {
      let block = await next;
      next = null;
      if (block.length < 4) throw invalid(`it is truncated: ${size} bytes end inside the length of segment ${index}`);
      const field = block.readUInt32BE(0);
      const final = field >= FINAL_BIT;
      const len = final ? field - FINAL_BIT : field;
      if (len > (final ? MAX_BUNDLE_JSON_BYTES : segmentBytes)) throw invalid(`decryption failed: segment ${index} (at byte ${pos}) claims ${len} bytes, more than allowed (the file was changed)`);
      const frame = 4 + len + TAG_BYTES;
      if (pos + frame > size) throw invalid(`it is truncated: ${size} bytes end inside segment ${index}`);
      if (block.length < frame) block = await readAt(fh, pos, frame);
      const nextPos = pos + frame;
      if (!final && nextPos < size) next = readAt(fh, nextPos, frameMax);
      const decipher = createDecipheriv('aes-256-gcm', opts.key, nonceOf(prefix, index, final));
      decipher.setAAD(Buffer.concat([header, block.subarray(0, 4)]));
      decipher.setAuthTag(block.subarray(4 + len, frame));
      const plain = decipher.update(block.subarray(4, 4 + len));
      try {
        decipher.final();
      } catch (err) {
        await next?.catch(() => undefined);
        throw invalid(`decryption failed in segment ${index} (bytes ${pos}–${nextPos - 1}): its tag does not match (the file was changed, or a segment is missing or out of order)`, err);
      }
      if (final) {
        if (nextPos !== size) throw invalid(`${size - nextPos} bytes follow its final segment`);
        const db = await out.finish();
        out = null;
        return { dbSha256: db.sha256, dbSize: db.size, bundleJson: plain.toString('utf8') };
      }
      await out.push(plain);
      pos = nextPos;
      index += 1;
      if (next === null) throw invalid(`it is truncated: it ends after segment ${index - 1} (${size} bytes) without its final segment`);
    }
    throw invalid(`it is truncated: ${size} bytes, no segment after its header`);
  } catch (err) {
    await out?.abort();
    if (opts.dbOutPath !== null) await rm(opts.dbOutPath, { force: true });
    if (err instanceof BallastError) throw err;
    throw invalid(`decryption failed (it could not be read): ${messageOf(err)}`, err);
  } finally {
    await fh.close();
  }
}
