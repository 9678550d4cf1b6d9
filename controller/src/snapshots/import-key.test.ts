import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { importKey } from './wiring.js';

describe('the key an import opens bundles with', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-import-key-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is never generated: a missing key file is BALLAST_ERR_SNAPSHOT_KEY and stays missing', async () => {
    const path = join(dir, 'snapshot.key');
    await expect(importKey(path, async () => randomBytes(32), silentLogger())).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_KEY' });
    await expect(stat(path)).rejects.toThrow();
  });

  it('must be the key the vault loaded (a file replaced while running asks for a restart)', async () => {
    const path = join(dir, 'snapshot.key');
    const key = randomBytes(32);
    await writeFile(path, `${key.toString('hex')}\n`, { mode: 0o600 });
    expect((await importKey(path, async () => key, silentLogger())).equals(key)).toBe(true);
    await expect(importKey(path, async () => randomBytes(32), silentLogger())).rejects.toMatchObject({ code: 'BALLAST_ERR_SNAPSHOT_KEY', message: expect.stringContaining('restart the controller') });
  });
});
