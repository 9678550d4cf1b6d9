import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './tool/controller.js';
import { run } from './tool/exec.js';
import { ensurePackages, repoVersion } from './tool/packages.js';

// The .deb packages: real Debian packages that carry their own Node runtime. Building them needs
// dpkg-deb and the npm registry (or its cache); the addon check needs nothing else.
const haveTools = ['dpkg-deb', 'md5sum'].every((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status === 0);
if (!haveTools) console.log('package tests skipped: dpkg-deb/md5sum missing (run scripts/install-lab-deps.sh)');

describe.skipIf(!haveTools)('packages', () => {
  let debs: { agent: string; controller: string };
  const x = { agent: '', controller: '' };

  beforeAll(async () => {
    debs = await ensurePackages((m) => console.log(m));
    for (const k of ['agent', 'controller'] as const) {
      x[k] = mkdtempSync(join(tmpdir(), `deb-${k}-`));
      await run(['dpkg-deb', '-x', debs[k], x[k]], { timeoutMs: 120_000 });
      await run(['dpkg-deb', '-e', debs[k], join(x[k], 'DEBIAN')], { timeoutMs: 60_000 });
    }
    const mb = (f: string) => (statSync(f).size / 1e6).toFixed(1);
    console.log(`package sizes: ballast-agent ${mb(debs.agent)} MB, ballast-controller ${mb(debs.controller)} MB`);
  });

  afterAll(() => {
    for (const d of Object.values(x)) if (d) rmSync(d, { recursive: true, force: true });
  });

  it('have complete control data: version, Depends without Node.js, conffiles, maintainer scripts, md5sums', () => {
    for (const k of ['agent', 'controller'] as const) {
      const control = readFileSync(join(x[k], 'DEBIAN/control'), 'utf8');
      expect(control).toMatch(new RegExp(`^Package: ballast-${k}$`, 'm'));
      expect(control).toMatch(new RegExp(`^Version: ${repoVersion().replace(/\./g, '\\.')}$`, 'm'));
      expect(control).toMatch(/^Architecture: amd64$/m);
      expect(control).not.toMatch(/^Depends:.*node/im);
      for (const s of ['postinst', 'prerm', 'postrm']) expect(statSync(join(x[k], 'DEBIAN', s)).mode & 0o111).toBeTruthy();
      const conffiles = readFileSync(join(x[k], 'DEBIAN/conffiles'), 'utf8').trim().split('\n');
      for (const c of conffiles) expect(existsSync(join(x[k], c)), c).toBe(true);
      const md5 = spawnSync('md5sum', ['--check', '--quiet', join(x[k], 'DEBIAN/md5sums')], { cwd: x[k], encoding: 'utf8' });
      expect(md5.status, md5.stdout + md5.stderr).toBe(0);
    }
    const agentControl = readFileSync(join(x.agent, 'DEBIAN/control'), 'utf8');
    expect(agentControl).toMatch(/^Depends: .*systemd.*iproute2.*iputils-arping.*ca-certificates/m);
  });

  it('install every path their systemd units execute', () => {
    for (const [k, unit] of [
      ['agent', 'ballast-agent.service'],
      ['controller', 'ballast-controller.service'],
    ] as const) {
      const text = readFileSync(join(x[k], 'lib/systemd/system', unit), 'utf8');
      expect(text).toBe(readFileSync(join(REPO_ROOT, 'systemd', unit), 'utf8'));
      const paths = [...text.matchAll(/^Exec[A-Za-z]*=[-@:+!]*(\/\S+)/gm)].map((m) => m[1]!);
      expect(paths.length).toBeGreaterThan(0);
      for (const p of paths) expect(statSync(join(x[k], p)).mode & 0o111, p).toBeTruthy();
    }
  });

  it('the controller package ships the built web UI: index.html and every asset it loads', () => {
    // Where controller.ts's BUILT_UI_DIR points from the packaged dist/controller/src/controller.js.
    const ui = join(x.controller, 'opt/ballast/controller/lib/dist/controller/ui');
    const html = readFileSync(join(ui, 'index.html'), 'utf8');
    const assets = [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const a of assets) expect(existsSync(join(ui, a)), a).toBe(true);
  });

  it('the controller loads its better-sqlite3 addon under the bundled Node runtime', () => {
    const base = join(x.controller, 'opt/ballast/controller');
    const probe = `
      const { createRequire } = require('node:module');
      const req = createRequire(${JSON.stringify(join(base, 'lib/package.json'))});
      const Database = req('better-sqlite3');
      const db = new Database(':memory:');
      db.pragma('journal_mode = WAL');
      const row = db.prepare('select sqlite_version() as v, 40 + 2 as answer').get();
      console.log(JSON.stringify({ node: process.versions.node, abi: process.versions.modules, sqlite: row.v, answer: row.answer }));`;
    const r = spawnSync(join(base, 'node/bin/node'), ['-e', probe], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { node: string; abi: string; answer: number };
    console.log(`bundled runtime: node ${out.node} (ABI ${out.abi}), better-sqlite3 loaded: ${r.stdout.trim()}`);
    expect(out.node).not.toBe(process.versions.node);
    expect(out.answer).toBe(42);
  });

  it('the controller survives garbage collection of many statements under the bundled runtime', () => {
    // Regression: Node >= 24.19 with better-sqlite3 <= 12 aborts in Statement::~Statement
    // ("Assertion failed: (env) != nullptr") when a statement is collected; it killed the lab's
    // controller. This probe aborts deterministically on that pair.
    const base = join(x.controller, 'opt/ballast/controller');
    const probe = `
      const { createRequire } = require('node:module');
      const Database = createRequire(${JSON.stringify(join(base, 'lib/package.json'))})('better-sqlite3');
      const db = new Database(':memory:');
      for (let i = 0; i < 20000; i++) db.prepare('select ' + i).get();
      globalThis.gc();
      setTimeout(() => { globalThis.gc(); console.log('survived'); }, 50);`;
    const r = spawnSync(join(base, 'node/bin/node'), ['--expose-gc', '-e', probe], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).not.toMatch(/Assertion failed/);
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('survived');
  });

  it('the agent bundles Node 22 (LTS; its idle RSS is lower than on 24: README "Performance")', () => {
    const r = spawnSync(join(x.agent, 'opt/ballast/agent/node/bin/node'), ['-p', 'process.versions.node'], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('.')[0]).toBe('22');
  });

  it('the packaged programs start under the bundled runtime', () => {
    for (const [k, main] of [
      ['agent', 'opt/ballast/agent/lib/agent/main.js'],
      ['controller', 'opt/ballast/controller/lib/dist/controller/src/main.js'],
      ['controller', 'opt/ballast/controller/lib/dist/ballastctl/src/main.js'],
    ] as const) {
      const node = join(x[k], `opt/ballast/${k}/node/bin/node`);
      const r = spawnSync(node, [join(x[k], main), '--help'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
      expect(r.status, `${main}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/Usage:/);
    }
  });

  it('the agent is the self-contained bundle: no node_modules, and its lazily loaded chunks run under the unit\'s flags', () => {
    const lib = join(x.agent, 'opt/ballast/agent/lib');
    expect(existsSync(join(lib, 'node_modules'))).toBe(false);
    expect(existsSync(join(lib, 'dist'))).toBe(false);
    // `facts` loads the systeminformation chunk; run with the unit's node flags, as the daemon runs it.
    const unit = readFileSync(join(x.agent, 'lib/systemd/system/ballast-agent.service'), 'utf8');
    const flags = /^ExecStart=\S+\/node((?: --\S+)*) /m.exec(unit)?.[1]?.trim().split(' ') ?? [];
    expect(flags).toContain('--lite-mode');
    const r = spawnSync(join(x.agent, 'opt/ballast/agent/node/bin/node'), [...flags, join(lib, 'agent/main.js'), 'facts'], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    const facts = JSON.parse(r.stdout) as { hostname: string; cpu: { cores: number } };
    expect(facts.cpu.cores).toBeGreaterThan(0);
    // The version comes from lib/package.json (shared/src/version.ts walks up from the bundle).
    const v = spawnSync(join(x.agent, 'opt/ballast/agent/node/bin/node'), [join(lib, 'agent/main.js'), '--version'], { encoding: 'utf8', timeout: 30_000 });
    expect(v.stdout.trim()).toBe(repoVersion());
  });

  it('the agent package carries no better-sqlite3 and the controller carries the agent package it serves', () => {
    expect(existsSync(join(x.agent, 'opt/ballast/agent/lib/node_modules/better-sqlite3'))).toBe(false);
    expect(existsSync(join(x.controller, 'opt/ballast/controller/packages', `ballast-agent_${repoVersion()}_amd64.deb`))).toBe(true);
  });
});
