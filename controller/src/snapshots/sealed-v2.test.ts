import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openSealedSnapshot, sealedFormat } from './sealed-file.js';
import { sealSnapshotV1 } from './sealed-v1.js';
import { SealWriter } from './sealed-v2.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'ballast-sealed-'));
  dirs.push(d);
  return d;
}
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const key = randomBytes(32);
const SEG = 1000;
const HEADER = 28;
const FRAME = 4 + SEG + 16;

/** Seals `db` (fed in odd-sized pieces) with 1000-byte segments; resolves with the file's path. */
async function seal(dir: string, db: Buffer, bundleJson = '{"b":1}'): Promise<string> {
  const w = await SealWriter.create({ key, dir, segmentBytes: SEG });
  const pieces = [db.subarray(0, 7), db.subarray(7, 2500), db.subarray(2500)];
  await pipeline(Readable.from(pieces), w.sink());
  const out = join(dir, 'snap.bsnap');
  await w.finish(bundleJson, out);
  return out;
}

async function flip(path: string, at: number): Promise<void> {
  const fh = await open(path, 'r+');
  const one = Buffer.alloc(1);
  await fh.read(one, 0, 1, at);
  one[0] = (one[0] ?? 0) ^ 0x01;
  await fh.write(one, 0, 1, at);
  await fh.close();
}

describe('sealed snapshot format 2 (chunked AES-256-GCM)', () => {
  it('round-trips a database streamed in pieces: same bytes, sha256 and bundle, encrypted, 0600, no temp file left', async () => {
    const dir = await tmp();
    const db = randomBytes(3500);
    const path = await seal(dir, db, '{"cluster":"lab"}');
    expect(await sealedFormat(path)).toBe(2);
    // Header + 3 full data segments + one of 500 bytes + the final (bundle) segment.
    expect((await stat(path)).size).toBe(HEADER + 3 * FRAME + (4 + 500 + 16) + (4 + 17 + 16));
    expect((await stat(path)).mode & 0o077).toBe(0);
    expect((await readFile(path)).includes(db.subarray(100, 132))).toBe(false);
    const out = join(dir, 'out.db');
    const opened = await openSealedSnapshot({ key, sealedPath: path, dbOutPath: out });
    expect(opened).toEqual({ dbSha256: sha(db), dbSize: 3500, bundleJson: '{"cluster":"lab"}' });
    expect((await readFile(out)).equals(db)).toBe(true);
    expect((await stat(out)).mode & 0o077).toBe(0);
    expect((await readdir(dir)).sort()).toEqual(['out.db', 'snap.bsnap']);
  });

  it('seals an empty database and a multi-MiB one at the default segment size', async () => {
    const dir = await tmp();
    const empty = await SealWriter.create({ key, dir });
    await pipeline(Readable.from([]), empty.sink());
    await empty.finish('{}', join(dir, 'empty.bsnap'));
    expect(await openSealedSnapshot({ key, sealedPath: join(dir, 'empty.bsnap'), dbOutPath: null })).toEqual({ dbSha256: sha(Buffer.alloc(0)), dbSize: 0, bundleJson: '{}' });
    const big = randomBytes(5 * 1024 * 1024 + 123);
    const w = await SealWriter.create({ key, dir });
    await pipeline(Readable.from([big.subarray(0, 65_536), big.subarray(65_536)]), w.sink());
    await w.finish('{}', join(dir, 'big.bsnap'));
    expect((await openSealedSnapshot({ key, sealedPath: join(dir, 'big.bsnap'), dbOutPath: null })).dbSha256).toBe(sha(big));
  });

  it('a flipped byte anywhere (header, any length field, ciphertext or tag of any segment, the bundle) is a coded error and leaves no database', async () => {
    const dir = await tmp();
    const db = randomBytes(3500);
    const good = await seal(dir, db);
    const size = (await stat(good)).size;
    const spots = [3, 6, 12, 20, 26, HEADER, HEADER + 2, HEADER + 4 + 500, HEADER + FRAME - 1, HEADER + FRAME + 10, HEADER + 2 * FRAME + 4, HEADER + 3 * FRAME + 3, HEADER + 3 * FRAME + 300, size - 30, size - 1];
    for (const at of spots) {
      const bad = join(dir, `bad-${at}.bsnap`);
      await writeFile(bad, await readFile(good));
      await flip(bad, at);
      const out = join(dir, `bad-${at}.db`);
      await expect(openSealedSnapshot({ key, sealedPath: bad, dbOutPath: out }), `byte ${at}`).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
      await expect(stat(out), `byte ${at}`).rejects.toMatchObject({ code: 'ENOENT' });
    }
    // A flip inside a data segment's ciphertext names the segment and the tag.
    const mid = join(dir, 'mid.bsnap');
    await writeFile(mid, await readFile(good));
    await flip(mid, HEADER + 2 * FRAME + 100);
    await expect(openSealedSnapshot({ key, sealedPath: mid, dbOutPath: null })).rejects.toThrow(/decryption failed in segment 2 .*tag does not match/);
  });

  it('a truncated file (inside the header, inside a segment, at a segment boundary, without its bundle) is a coded error', async () => {
    const dir = await tmp();
    const good = await seal(dir, randomBytes(3500));
    const size = (await stat(good)).size;
    for (const length of [0, 10, HEADER, HEADER + 2, HEADER + FRAME, HEADER + FRAME + 50, size - (4 + 7 + 16), size - 1]) {
      const cut = join(dir, `cut-${length}.bsnap`);
      await writeFile(cut, await readFile(good));
      await truncate(cut, length);
      const out = join(dir, `cut-${length}.db`);
      await expect(openSealedSnapshot({ key, sealedPath: cut, dbOutPath: out }), `length ${length}`).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
      await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
    }
    const cut = join(dir, 'cut-boundary.bsnap');
    await writeFile(cut, (await readFile(good)).subarray(0, HEADER + 2 * FRAME));
    await expect(openSealedSnapshot({ key, sealedPath: cut, dbOutPath: null })).rejects.toThrow(/truncated: it ends after segment 1 .*without its final segment/);
  });

  it('refuses trailing bytes, swapped segments and a dropped segment', async () => {
    const dir = await tmp();
    const good = await readFile(await seal(dir, randomBytes(3500)));
    const trailing = join(dir, 'trailing.bsnap');
    await writeFile(trailing, Buffer.concat([good, Buffer.from('x')]));
    await expect(openSealedSnapshot({ key, sealedPath: trailing, dbOutPath: null })).rejects.toThrow(/1 bytes follow its final segment/);
    const seg = (i: number) => good.subarray(HEADER + i * FRAME, HEADER + (i + 1) * FRAME);
    const rest = good.subarray(HEADER + 3 * FRAME);
    const swapped = join(dir, 'swapped.bsnap');
    await writeFile(swapped, Buffer.concat([good.subarray(0, HEADER), seg(1), seg(0), seg(2), rest]));
    await expect(openSealedSnapshot({ key, sealedPath: swapped, dbOutPath: null })).rejects.toThrow(/segment 0 .*tag does not match/);
    const dropped = join(dir, 'dropped.bsnap');
    await writeFile(dropped, Buffer.concat([good.subarray(0, HEADER), seg(0), seg(2), rest]));
    await expect(openSealedSnapshot({ key, sealedPath: dropped, dbOutPath: null })).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });
  });

  it('a wrong key is a coded error naming both key ids, before anything is decrypted', async () => {
    const dir = await tmp();
    const path = await seal(dir, randomBytes(3500));
    const out = join(dir, 'wrong.db');
    await expect(openSealedSnapshot({ key: randomBytes(32), sealedPath: path, dbOutPath: out })).rejects.toMatchObject({
      code: 'BALLAST_ERR_SNAPSHOT_INVALID',
      message: expect.stringMatching(/sealed with a different key \(key id [0-9a-f]{16}; this controller's key id is [0-9a-f]{16}\)/),
    });
    await expect(stat(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('a decrypted copy that cannot be written is BALLAST_ERR_IO (not the snapshot\'s fault), small or large, without hanging', async () => {
    const dir = await tmp();
    for (const n of [3500, 40_000]) {
      const path = await seal(dir, randomBytes(n));
      await expect(openSealedSnapshot({ key, sealedPath: path, dbOutPath: join(dir, 'missing-dir', 'out.db') })).rejects.toMatchObject({ code: 'BALLAST_ERR_IO' });
      await rm(path);
    }
  });

  it('abort deletes the partial file; format-1 bundles still open; an unknown format is refused', async () => {
    const dir = await tmp();
    const w = await SealWriter.create({ key, dir, segmentBytes: SEG });
    await pipeline(Readable.from([randomBytes(2500)]), w.sink());
    await w.abort();
    expect(await readdir(dir)).toEqual([]);

    const db = randomBytes(3000);
    await writeFile(join(dir, 'plain.db'), db);
    const v1 = join(dir, 'v1.bsnap');
    await sealSnapshotV1({ key, bundleJson: '{"v":1}', dbPath: join(dir, 'plain.db'), outPath: v1 });
    expect(await sealedFormat(v1)).toBe(1);
    expect(await openSealedSnapshot({ key, sealedPath: v1, dbOutPath: null })).toEqual({ dbSha256: sha(db), dbSize: 3000, bundleJson: '{"v":1}' });
    await flip(v1, 500);
    await expect(openSealedSnapshot({ key, sealedPath: v1, dbOutPath: null })).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_INVALID' });

    const v9 = join(dir, 'v9.bsnap');
    await writeFile(v9, Buffer.from([0x42, 0x53, 0x4e, 0x41, 0x50, 0x00, 0x09, 0x00, 1, 2, 3]));
    await expect(openSealedSnapshot({ key, sealedPath: v9, dbOutPath: null })).rejects.toThrow(/unknown format 9/);
    await writeFile(v9, 'not a snapshot');
    await expect(openSealedSnapshot({ key, sealedPath: v9, dbOutPath: null })).rejects.toThrow(/bad magic/);
  });
});
