import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashFile, Sha256Meter } from './hashing.js';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const sink = () => new Writable({ write: (_chunk, _enc, done) => done() });

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

  it('meters what passes: the same digest and the byte count', async () => {
    const meter = new Sha256Meter();
    await pipeline(Readable.from([Buffer.from('hello '), Buffer.from('world')]), meter, sink());
    expect({ sha256: meter.hex(), size: meter.size }).toEqual({ sha256: sha('hello world'), size: 11 });
  });

  it('fails the stream with the caller\'s error past the bound', async () => {
    const meter = new Sha256Meter({ maxBytes: 15, tooLarge: (max) => new Error(`over ${max}`) });
    await expect(pipeline(Readable.from([Buffer.alloc(10), Buffer.alloc(10)]), meter, sink())).rejects.toThrow('over 15');
  });
});
