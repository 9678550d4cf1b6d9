import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { loadVarsFile } from './apply.js';

// An empty home: a command that got as far as loading the config would fail with a config error,
// so these prove usage problems are caught first (exit 2, one line, nothing on stdout).
const home = mkdtempSync(join(tmpdir(), 'ballastctl-apply-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: {},
    homedir: home,
    cwd: home,
  });
  return { code, out, err };
}

describe('ballastctl apply / runs / run: usage', () => {
  it.each([
    [['apply', 'os-prep'], /^error: required option '--hosts <names>' not specified/],
    [['apply', 'OS', '--hosts', 'a'], /^error: command-argument value 'OS' is invalid for argument 'role'\. role names are lowercase/],
    [['apply', 'os-prep', '--hosts', 'a,B_2'], /^error: option '--hosts <names>' argument 'a,B_2' is invalid/],
    [['apply', 'os-prep', '--hosts', 'a', '-o', 'yaml'], /argument 'yaml' is invalid\. Allowed choices are text, json\./],
    [['apply', 'os-prep', '--hosts', 'a', '--vars', 'missing.yaml'], /^error: cannot read vars file missing\.yaml/],
    [['run', 'abc'], /^error: command-argument value 'abc' is invalid for argument 'id'\. run ids look like/],
    [['runs', '--limit', '0'], /argument '0' is invalid/],
  ])('%j', async (argv, message) => {
    const r = await run(...argv);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });

  it('reads a vars file: a YAML mapping, empty is {}, anything else is a usage error', () => {
    writeFileSync(join(home, 'ok.yaml'), 'swapOff: false\nsysctls:\n  vm.max_map_count: "262144"\n');
    writeFileSync(join(home, 'empty.yaml'), '');
    writeFileSync(join(home, 'list.yaml'), '- a\n- b\n');
    writeFileSync(join(home, 'bad.yaml'), 'a: [\n');
    expect(loadVarsFile('ok.yaml', home)).toEqual({ swapOff: false, sysctls: { 'vm.max_map_count': '262144' } });
    expect(loadVarsFile('empty.yaml', home)).toEqual({});
    expect(() => loadVarsFile('list.yaml', home)).toThrow(/must hold a mapping/);
    expect(() => loadVarsFile('bad.yaml', home)).toThrow(/is not valid YAML/);
  });
});
