/**
 * Decompression bombs built cheaply: gzip allows concatenated members, so one compressed MiB of
 * zeros repeated N times is a valid .tar.gz that unpacks to N MiB — 1 GiB from ~1 MB of file,
 * without compressing 1 GiB in the test.
 */
import { writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';

const MIB = 1024 * 1024;

/** A ustar header for a regular file (what GNU tar writes, minus the optional fields). */
export function ustarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  const put = (value: string, offset: number, length: number) => h.write(value.slice(0, length), offset, length, 'latin1');
  const octal = (value: number, length: number) => `${value.toString(8).padStart(length - 1, '0')}\0`;
  put(name, 0, 100);
  put(octal(0o644, 8), 100, 8);
  put(octal(0, 8), 108, 8);
  put(octal(0, 8), 116, 8);
  put(octal(size, 12), 124, 12);
  put(octal(1_700_000_000, 12), 136, 12);
  put('        ', 148, 8);
  put('0', 156, 1);
  put('ustar\0', 257, 6);
  put('00', 263, 2);
  const sum = h.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8);
  return h;
}

/** One tar member, padded to 512. */
function member(name: string, content: Buffer): Buffer {
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([ustarHeader(name, content.length), content, pad]);
}

/**
 * Writes a .tar.gz holding the given small files, then `bombName` declared and filled with
 * `mib` MiB of zeros. Returns the file size.
 */
export async function writeBomb(path: string, opts: { files?: Record<string, string>; bombName: string; mib: number }): Promise<number> {
  const head = Buffer.concat([...Object.entries(opts.files ?? {}).map(([n, c]) => member(n, Buffer.from(c))), ustarHeader(opts.bombName, opts.mib * MIB)]);
  const zeros = gzipSync(Buffer.alloc(MIB), { level: 9 });
  const parts = [gzipSync(head), ...Array.from({ length: opts.mib }, () => zeros), gzipSync(Buffer.alloc(1024))];
  const bytes = Buffer.concat(parts);
  await writeFile(path, bytes);
  return bytes.length;
}
