import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFile } from './hashing.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

describe('streaming sha256', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-hash-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('hashes a file without reading it whole', async () => {
    await writeFile(join(dir, 'f'), 'hello world');
    expect(await hashFile(join(dir, 'f'))).toBe(sha('hello world'));
  });
});
