import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stageBundle } from '../../controller/src/artifacts/bundle.js';
import { loadTrustKeys } from '../../controller/src/artifacts/trust-keys.js';
import { sha256, writeBundle } from '../../test/support/bundle.js';
import { runCli } from './cli.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ballastctl-sign-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: {}, homedir: dir, cwd: dir });
  return { code, out, err };
}

const TOOL = [{ name: 'tool', version: '1.0.0', file: 'bin/tool', content: Buffer.from('#!/bin/sh\necho tool\n') }];

/** Imports `bundle` as an admin whose controller trusts `pubFile`, the way the controller does. */
async function importAsAdmin(bundle: string, pubFile: string) {
  const workDir = join(dir, `work-${Math.random().toString(16).slice(2)}`);
  await mkdir(workDir);
  const keys = await loadTrustKeys([pubFile]);
  return stageBundle({ source: createReadStream(bundle), workDir, maxBytes: 1 << 24, trust: { admin: true, keys } });
}

describe('ballastctl artifacts keygen / sign', () => {
  it('keygen writes a 0600 private key and a public key, prints the key id, and never overwrites', async () => {
    const r = await cli('artifacts', 'keygen', '--out', join(dir, 'release'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/key id [0-9a-f]{64}\n/);
    expect((await stat(join(dir, 'release.key'))).mode & 0o777).toBe(0o600);
    expect(await readFile(join(dir, 'release.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    const again = await cli('artifacts', 'keygen', '--out', join(dir, 'release'));
    expect(again).toMatchObject({ code: 2, err: expect.stringContaining('release.key exists; choose another --out prefix') });
  });

  it('sign turns an unsigned bundle (tar.gz) into one the controller accepts from an admin; in place, atomically', async () => {
    await cli('artifacts', 'keygen', '--out', join(dir, 'k'));
    const bundle = join(dir, 'b.tar.gz');
    await writeBundle({ out: bundle, gzip: true, sign: false, entries: TOOL, extra: [{ path: 'README', content: Buffer.from('dropped') }] });
    expect(await importAsAdmin(bundle, join(dir, 'k.pub')).catch((e: { code: string }) => e.code)).toBe('BALLAST_ERR_ARTIFACT_SIGNATURE');
    const r = await cli('artifacts', 'sign', bundle, '--key', join(dir, 'k.key'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(1 artifact verified) with key');
    const listing = execFileSync('tar', ['-tzf', bundle]).toString().trim().split('\n');
    expect(listing).toEqual(['manifest.yaml', 'manifest.yaml.sig', 'bin/tool']);
    const staged = await importAsAdmin(bundle, join(dir, 'k.pub'));
    expect(staged.trust.unpinned).toEqual(['tool 1.0.0 (amd64)']);
    // Signing again with another key replaces the signature; --out leaves the input as it was.
    await cli('artifacts', 'keygen', '--out', join(dir, 'k2'));
    const before = await readFile(bundle);
    const second = await cli('artifacts', 'sign', bundle, '--key', join(dir, 'k2.key'), '--out', join(dir, 'b2.tar.gz'));
    expect(second.out).toContain('replacing its old signature');
    expect(await readFile(bundle)).toEqual(before);
    await importAsAdmin(join(dir, 'b2.tar.gz'), join(dir, 'k2.pub'));
    expect(await importAsAdmin(join(dir, 'b2.tar.gz'), join(dir, 'k.pub')).catch((e: Error) => e.message)).toContain('which this controller does not trust');
  });

  it('refuses to sign a bundle whose files do not match its manifest, leaving it untouched (exit 1); bad keys are usage errors', async () => {
    await cli('artifacts', 'keygen', '--out', join(dir, 'k'));
    const bundle = join(dir, 'b.tar');
    await writeBundle({ out: bundle, sign: false, entries: [{ ...TOOL[0]!, sha256: sha256('something else') }] });
    const before = await readFile(bundle);
    const r = await cli('artifacts', 'sign', bundle, '--key', join(dir, 'k.key'));
    expect(r.code).toBe(1);
    expect(r.err).toContain(`bin/tool: the manifest says sha256 ${sha256('something else')}, the file has ${sha256(TOOL[0]!.content)}; nothing was signed`);
    expect(await readFile(bundle)).toEqual(before);
    const pub = await cli('artifacts', 'sign', bundle, '--key', join(dir, 'k.pub'));
    expect(pub).toMatchObject({ code: 2, err: expect.stringContaining('is not a PEM private key') });
    await writeFile(join(dir, 'x.tar'), 'not a tar');
    expect((await cli('artifacts', 'sign', join(dir, 'x.tar'), '--key', join(dir, 'k.key'))).err).toContain('neither a tar nor a tar.gz');
  });

  it('--help for both', async () => {
    for (const cmd of ['keygen', 'sign']) {
      const r = await cli('artifacts', cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain('Examples:');
    }
  });
});
