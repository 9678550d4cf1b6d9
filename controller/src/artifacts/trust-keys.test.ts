import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateSigningKeyPair } from '../../../shared/src/artifacts-signature.js';
import { loadTrustKeys } from './trust-keys.js';

describe('--artifact-trust-key files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-trustkeys-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('loads public keys with their key ids and files', async () => {
    const a = generateSigningKeyPair();
    await writeFile(join(dir, 'a.pub'), a.publicPem);
    expect(await loadTrustKeys([join(dir, 'a.pub')])).toEqual([{ id: a.id, key: expect.anything(), source: join(dir, 'a.pub') }]);
    expect(await loadTrustKeys([])).toEqual([]);
  });

  it('reports every bad file at once (BALLAST_ERR_CONFIG): missing, private, writable by others, not a key, twice', async () => {
    const a = generateSigningKeyPair();
    await writeFile(join(dir, 'a.pub'), a.publicPem);
    await writeFile(join(dir, 'a.key'), a.privatePem, { mode: 0o600 });
    await writeFile(join(dir, 'open.pub'), generateSigningKeyPair().publicPem);
    await chmod(join(dir, 'open.pub'), 0o666);
    await writeFile(join(dir, 'junk.pub'), 'not a key');
    const files = ['a.pub', 'missing.pub', 'a.key', 'open.pub', 'junk.pub', 'a.pub'].map((f) => join(dir, f));
    const err = await loadTrustKeys(files).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'BALLAST_ERR_CONFIG' });
    const message = (err as Error).message;
    expect(message).toContain(`--artifact-trust-key[1] ${join(dir, 'missing.pub')}: cannot read it: ENOENT`);
    expect(message).toContain('--artifact-trust-key[2]');
    expect(message).toContain('is a private key');
    expect(message).toContain('[3]');
    expect(message).toContain('writable by group or others (mode 666)');
    expect(message).toContain('[4]');
    expect(message).toContain(`--artifact-trust-key[5] ${join(dir, 'a.pub')}: the same key as ${join(dir, 'a.pub')}`);
  });
});
