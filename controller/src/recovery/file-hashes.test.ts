import { createHash } from 'node:crypto';
import { appendFile, mkdtemp, rename, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashFile } from '../../../shared/src/hashing.js';
import { FileHashes } from './file-hashes.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('FileHashes (restore cache)', () => {
  it('reads a file once per version: unchanged → remembered; written, touched or replaced → read again', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-file-hashes-'));
    const path = join(dir, 'snap.db');
    await writeFile(path, 'one');
    let reads = 0;
    const hashes = new FileHashes(async (p, signal) => {
      reads += 1;
      return hashFile(p, signal);
    });
    expect(await hashes.sha256(path)).toBe(sha('one'));
    expect(await hashes.sha256(path)).toBe(sha('one'));
    expect(reads).toBe(1);
    await appendFile(path, 'two'); // content changed
    expect(await hashes.sha256(path)).toBe(sha('onetwo'));
    expect(reads).toBe(2);
    // Same size, mtime set back to what it was: the ctime still moves, so it is read again.
    const before = new Date(Date.now() - 60_000);
    await utimes(path, before, before);
    const changedNow = await hashes.sha256(path);
    await writeFile(path, 'onetwX');
    await utimes(path, before, before);
    expect(await hashes.sha256(path)).toBe(sha('onetwX'));
    expect(changedNow).toBe(sha('onetwo'));
    expect(reads).toBe(4);
    // Another file renamed over it (another inode).
    await writeFile(join(dir, 'other'), 'onetwY');
    await rename(join(dir, 'other'), path);
    expect(await hashes.sha256(path)).toBe(sha('onetwY'));
    expect(reads).toBe(5);
    expect(await hashes.sha256(path)).toBe(sha('onetwY'));
    expect(reads).toBe(5);
  });

  it('remembers nothing for a file that changed while it was read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-file-hashes-'));
    const path = join(dir, 'snap.db');
    await writeFile(path, 'a');
    let reads = 0;
    const hashes = new FileHashes(async (p) => {
      reads += 1;
      const h = await hashFile(p);
      if (reads === 1) await appendFile(p, 'b');
      return h;
    });
    await hashes.sha256(path);
    expect(await hashes.sha256(path)).toBe(sha('ab'));
    expect(reads).toBe(2);
  });
});
