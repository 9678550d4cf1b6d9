/**
 * The agent's unit starts node with --lite-mode (systemd/ballast-agent.service, issue 15), and lite
 * mode disables WebAssembly: node's fetch (undici parses HTTP with a wasm llhttp) then fails, and
 * under node 22 the agent even crashed at start. So the agent's code must not use fetch, undici or
 * WebAssembly; it speaks HTTP through node:https. This test keeps it so, and checks the premise.
 *
 * Two more rules of the lean agent (issue 15, README "Performance"):
 * - `node:http` is loaded through shared/src/node-http.ts (require), never imported: under node 22,
 *   the ESM import of `node:http` reads its lazy `WebSocket` export, which loads the fetch client and
 *   crashes the agent under --lite-mode.
 * - No ICU-backed calls (localeCompare, toLocale*, Intl): the first one maps megabytes of ICU data
 *   and tables into the process for good (localeCompare ~2.5 MB, toLocaleString ~6 MB measured).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('testing.ts')) out.push(p);
  }
  return out;
}

describe('the agent under --lite-mode', () => {
  it('lite mode really disables WebAssembly (the premise of this guard)', () => {
    const r = spawnSync(process.execPath, ['--lite-mode', '-e', 'process.stdout.write(typeof WebAssembly)'], { encoding: 'utf8' });
    expect(r.stdout).toBe('undefined');
  });

  it('agent and shared code use no fetch, undici or WebAssembly', () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(repo, 'agent/src')), ...sources(join(repo, 'shared/src'))]) {
      const text = readFileSync(file, 'utf8');
      if (/\bfetch\(|\bundici\b|\bWebAssembly\b/.test(text)) offenders.push(file.slice(repo.length + 1));
    }
    expect(offenders).toEqual([]);
  });

  it('agent and shared code import node:http only through shared/src/node-http.ts', () => {
    const offenders: string[] = [];
    for (const file of [...sources(join(repo, 'agent/src')), ...sources(join(repo, 'shared/src'))]) {
      const text = readFileSync(file, 'utf8');
      if (/^import (?!type )[^;]*from 'node:http';/m.test(text)) offenders.push(file.slice(repo.length + 1));
    }
    expect(offenders).toEqual([]);
  });

  it('the agent calls nothing that loads ICU (localeCompare, toLocale*, Intl)', () => {
    const offenders: string[] = [];
    for (const file of sources(join(repo, 'agent/src'))) {
      const text = readFileSync(file, 'utf8');
      if (/\.localeCompare\(|\.toLocale[A-Za-z]*\(|\bIntl\./.test(text)) offenders.push(file.slice(repo.length + 1));
    }
    expect(offenders).toEqual([]);
  });
});
