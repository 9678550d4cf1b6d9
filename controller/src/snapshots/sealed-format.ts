/**
 * What every format of the sealed snapshot bundle shares (sealed-v1.ts, sealed-v2.ts): the bounds
 * and the shapes sealing and opening report. The first 8 bytes of a sealed file are `BSNAP\0`, the
 * format number and a zero byte, so a reader picks the format before reading anything else.
 */

/** `BSNAP\0`: the first six bytes of every sealed snapshot; byte 6 is the format number. */
export const MAGIC_PREFIX = Buffer.from([0x42, 0x53, 0x4e, 0x41, 0x50, 0x00]);
/** The bundle JSON is PKI and a spec: a few hundred KiB at most. */
export const MAX_BUNDLE_JSON_BYTES = 8 * 1024 * 1024;
/** Read size: 1 MiB chunks cut per-chunk overhead (cipher, hash, stream) on GB-sized databases. */
export const CHUNK = 1024 * 1024;

/** What sealing wrote: the sealed file's own sha256 and size (the S3 copy is checked against them). */
export interface SealedInfo {
  sha256: string;
  size: number;
}

/** What opening produced: the database's sha256 and size as decrypted, and the bundle JSON. */
export interface OpenedInfo {
  dbSha256: string;
  dbSize: number;
  bundleJson: string;
}

/** Options of opening a sealed file: the key, the file, and where the database goes (null: only check). */
export interface OpenOptions {
  key: Buffer;
  sealedPath: string;
  dbOutPath: string | null;
}
