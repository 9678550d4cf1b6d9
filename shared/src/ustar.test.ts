import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isBallastError } from './errors.js';
import { readUstarMember, readUstarMembers, USTAR_END, ustarHeader, ustarPadding } from './ustar.js';

const run = promisify(execFile);
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballast-ustar-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const member = (name: string, data: Buffer) => [ustarHeader({ name, type: 'file', mode: 0o644, size: data.length }), data, ustarPadding(data.length)];

async function refusal(bytes: Buffer): Promise<string> {
  const path = join(dir, 'bad.tar');
  await writeFile(path, bytes);
  try {
    await readUstarMembers(path, { what: 'test archive' });
  } catch (err) {
    if (isBallastError(err, 'BALLAST_ERR_VALIDATION')) return err.message;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('ustar', () => {
  it('writes what GNU tar reads, long names through the prefix field included, and reads it back', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(90)}`;
    const bytes = Buffer.concat([ustarHeader({ name: 'dir', type: 'dir', mode: 0o755, size: 0 }), ...member('dir/a', Buffer.from('hello')), ...member(long, Buffer.alloc(513, 1)), USTAR_END]);
    const path = join(dir, 'ok.tar');
    await writeFile(path, bytes);
    expect((await run('tar', ['-tf', path])).stdout.trim().split('\n')).toEqual(['dir/', 'dir/a', long]);
    const members = await readUstarMembers(path, { what: 'test' });
    expect(members.map((m) => [m.name, m.type, m.size])).toEqual([['dir', 'dir', 0], ['dir/a', 'file', 5], [long, 'file', 513]]);
    expect((await readUstarMember(path, members[1]!, 100, 'test')).toString()).toBe('hello');
    await expect(readUstarMember(path, members[2]!, 512, 'test')).rejects.toMatchObject({ code: 'BALLAST_ERR_VALIDATION' });
  });

  it('refuses bad checksums, links, duplicates, truncation and names that climb', async () => {
    const good = member('a', Buffer.from('x'));
    const corrupt = Buffer.from(good[0]!);
    corrupt.write('b', 0, 'ascii');
    expect(await refusal(Buffer.concat([corrupt, good[1]!, good[2]!, USTAR_END]))).toMatch(/bad checksum/);
    const link = Buffer.from(ustarHeader({ name: 'l', type: 'file', mode: 0o777, size: 0 }));
    link.write('2', 156, 'ascii');
    link.fill(0x20, 148, 156);
    link.write(`${link.reduce((s, b) => s + b, 0).toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
    expect(await refusal(Buffer.concat([link, USTAR_END]))).toMatch(/tar type "2"/);
    expect(await refusal(Buffer.concat([...good, ...good, USTAR_END]))).toMatch(/appears twice/);
    expect(await refusal(Buffer.concat([...member('../a', Buffer.from('x')), USTAR_END]))).toMatch(/not a plain relative name/);
    expect(await refusal(Buffer.concat(member('big', Buffer.alloc(2000))).subarray(0, 1024))).toMatch(/truncated/);
  });
});
