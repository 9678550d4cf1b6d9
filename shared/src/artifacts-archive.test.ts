import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractTar, gunzipToFile, LimitExceededError, listTar, normalizeMember, sniffArchive, writeStreamToFile } from './artifacts-archive.js';
import { isBallastError } from './errors.js';

const run = promisify(execFile);

describe('artifact archive helpers', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-archive-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('streams to a new file with its sha256 and size, refusing to overwrite', async () => {
    const data = [Buffer.from('hello '), Buffer.from('world')];
    const out = await writeStreamToFile(Readable.from(data), join(dir, 'f'));
    expect(out).toEqual({ sha256: createHash('sha256').update('hello world').digest('hex'), size: 11 });
    expect(await readFile(join(dir, 'f'), 'utf8')).toBe('hello world');
    await expect(writeStreamToFile(Readable.from(data), join(dir, 'f'))).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('stops at the size bound with a LimitExceededError', async () => {
    const err = await writeStreamToFile(Readable.from([Buffer.alloc(10), Buffer.alloc(10)]), join(dir, 'g'), { maxBytes: 15, what: 'test upload' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LimitExceededError);
    expect((err as Error).message).toBe('failed to receive test upload: it is larger than the limit of 15 bytes');
  });

  it('writes many small chunks in batches: the same bytes, sha256 and size as sent', async () => {
    // 16 KiB chunks as a TLS download delivers them; 5 MiB crosses several 1 MiB write batches.
    const chunks = Array.from({ length: 320 }, (_, i) => Buffer.alloc(16 * 1024, i % 251));
    const whole = Buffer.concat(chunks);
    const out = await writeStreamToFile(Readable.from(chunks), join(dir, 'big'), { fsync: false });
    expect(out).toEqual({ sha256: createHash('sha256').update(whole).digest('hex'), size: whole.length });
    expect((await readFile(join(dir, 'big'))).equals(whole)).toBe(true);
  });

  it('fails with the source\'s error, and on a source that closes before its end', async () => {
    const broken = new Readable({ read() {} });
    const pending = writeStreamToFile(broken, join(dir, 'e1'));
    broken.push(Buffer.from('part'));
    broken.destroy(new Error('connection reset'));
    await expect(pending).rejects.toThrow('connection reset');
    const cut = new Readable({ read() {} });
    const cutPending = writeStreamToFile(cut, join(dir, 'e2'));
    cut.push(Buffer.from('part'));
    cut.destroy();
    await expect(cutPending).rejects.toMatchObject({ code: 'ERR_STREAM_PREMATURE_CLOSE' });
  });

  it('stops on abort with an AbortError carrying the reason, and ends the source', async () => {
    const endless = new Readable({ read() {} });
    const ac = new AbortController();
    const pending = writeStreamToFile(endless, join(dir, 'a'), { signal: ac.signal });
    endless.push(Buffer.alloc(1024));
    await new Promise((r) => setTimeout(r, 20));
    ac.abort(new Error('cancelled by the operator'));
    const err = (await pending.catch((e: unknown) => e)) as Error;
    expect({ name: err.name, cause: (err.cause as Error).message }).toEqual({ name: 'AbortError', cause: 'cancelled by the operator' });
    expect(endless.destroyed).toBe(true);
    await expect(writeStreamToFile(Readable.from([Buffer.from('x')]), join(dir, 'b'), { signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('does not write the chunk that crosses the size bound', async () => {
    await writeStreamToFile(Readable.from([Buffer.alloc(10, 1), Buffer.alloc(10, 2)]), join(dir, 'h'), { maxBytes: 15 }).catch(() => undefined);
    expect((await readFile(join(dir, 'h'))).length).toBeLessThanOrEqual(10);
  });

  it('tells tar.gz, tar and plain files apart, lists and extracts chosen members', async () => {
    await mkdir(join(dir, 'src/pkg'), { recursive: true });
    await writeFile(join(dir, 'src/pkg/a'), 'A');
    await writeFile(join(dir, 'src/pkg/b'), 'B');
    await run('tar', ['-czf', join(dir, 'x.tgz'), '-C', join(dir, 'src'), './pkg']);
    await run('tar', ['-cf', join(dir, 'x.tar'), '-C', join(dir, 'src'), 'pkg']);
    expect(await sniffArchive(join(dir, 'x.tgz'))).toBe('tar.gz');
    expect(await sniffArchive(join(dir, 'x.tar'))).toBe('tar');
    expect(await sniffArchive(join(dir, 'src/pkg/a'))).toBe('file');

    const names = await listTar(join(dir, 'x.tgz'), 'tar.gz', { what: 'test' });
    expect(names.map(normalizeMember).sort()).toEqual(['pkg', 'pkg/a', 'pkg/b']);
    await mkdir(join(dir, 'out'));
    await extractTar(join(dir, 'x.tgz'), 'tar.gz', join(dir, 'out'), ['./pkg/b'], { what: 'test' });
    expect(await readFile(join(dir, 'out/pkg/b'), 'utf8')).toBe('B');
    await expect(readFile(join(dir, 'out/pkg/a'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('reports tar and gunzip failures as coded errors quoting them', async () => {
    await writeFile(join(dir, 'broken.tar.gz'), Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]));
    const err = await listTar(join(dir, 'broken.tar.gz'), 'tar.gz', { what: 'bundle', code: 'BALLAST_ERR_IO' }).catch((e: unknown) => e);
    expect(isBallastError(err, 'BALLAST_ERR_IO')).toBe(true);
    expect((err as Error).message).toMatch(/^failed to list bundle: (tar exited 2|reading the archive failed): /);
  });

  it('decompresses a tar.gz once into a plain tar, under the bound; a bomb or a corrupt stream leaves no file', async () => {
    await mkdir(join(dir, 'src/pkg'), { recursive: true });
    await writeFile(join(dir, 'src/pkg/a'), 'A'.repeat(100_000));
    await run('tar', ['-czf', join(dir, 'x.tgz'), '-C', join(dir, 'src'), './pkg']);
    await gunzipToFile(join(dir, 'x.tgz'), join(dir, 'x.tar'), { what: 'test' });
    expect(await sniffArchive(join(dir, 'x.tar'))).toBe('tar');
    expect((await listTar(join(dir, 'x.tar'), 'tar', { what: 'test' })).map(normalizeMember).sort()).toEqual(['pkg', 'pkg/a']);

    const bomb = await gunzipToFile(join(dir, 'x.tgz'), join(dir, 'bomb.tar'), { what: 'artifact x', maxUnpackedBytes: 50_000 }).catch((e: unknown) => e);
    expect(isBallastError(bomb, 'BALLAST_ERR_ARCHIVE_TOO_LARGE')).toBe(true);
    expect((bomb as Error).message).toMatch(/^failed to unpack artifact x: it decompresses to more than 50000 bytes/);
    await expect(readFile(join(dir, 'bomb.tar'))).rejects.toMatchObject({ code: 'ENOENT' });

    await writeFile(join(dir, 'broken.tar.gz'), Buffer.from([0x1f, 0x8b, 0, 1, 2, 3]));
    const broken = await gunzipToFile(join(dir, 'broken.tar.gz'), join(dir, 'broken.tar'), { what: 'artifact y', code: 'BALLAST_ERR_IO' }).catch((e: unknown) => e);
    expect(isBallastError(broken, 'BALLAST_ERR_IO')).toBe(true);
    expect((broken as Error).message).toMatch(/^failed to decompress artifact y: /);
    await expect(readFile(join(dir, 'broken.tar'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
