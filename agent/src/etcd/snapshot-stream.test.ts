import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startCommand, tailFile } from './snapshot-stream.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of source) parts.push(p);
  return Buffer.concat(parts);
}

// A real child process that writes like `etcdctl snapshot save`: appends to FILE.part in pieces with
// pauses (so the reader catches up and waits), then renames it to FILE — or fails half-way.
const WRITER = `f="$1"; for i in 1 2 3 4 5; do head -c 300000 /dev/urandom >> "$f.part"; sleep 0.05; done; [ "$2" = fail ] && exit 3; mv "$f.part" "$f"`;

describe('tailFile: reading a snapshot while etcdctl writes it', () => {
  it('yields every byte of the growing part file, in order, ending after the writer succeeds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-tail-'));
    dirs.push(dir);
    const file = join(dir, 'snapshot.db');
    const writer = startCommand('/bin/sh', ['-c', WRITER, 'writer', file, 'ok'], 10_000);
    const read = await collect(tailFile({ partPath: `${file}.part`, finalPath: file, writer }));
    await writer.done;
    const saved = await readFile(file);
    expect(read.length).toBe(1_500_000);
    expect(createHash('sha256').update(read).digest('hex')).toBe(createHash('sha256').update(saved).digest('hex'));
  });

  it('throws the writer failure instead of ending (a partial snapshot is never uploaded as complete)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-tail-'));
    dirs.push(dir);
    const file = join(dir, 'snapshot.db');
    const writer = startCommand('/bin/sh', ['-c', WRITER, 'writer', file, 'fail'], 10_000);
    await expect(collect(tailFile({ partPath: `${file}.part`, finalPath: file, writer }))).rejects.toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
  });

  it('reads the final file when the writer finished before any part file was seen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ballast-tail-'));
    dirs.push(dir);
    const file = join(dir, 'snapshot.db');
    const writer = startCommand('/bin/sh', ['-c', 'printf hello > "$1"', 'writer', file], 10_000);
    await writer.done;
    expect((await collect(tailFile({ partPath: `${file}.part`, finalPath: file, writer }))).toString()).toBe('hello');
  });
});
