import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { openStore } from '../store/store.js';
import { OperationEngine } from './engine.js';
import { appendingExecutor, chainKind, until } from './fakes.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');

describe('operations survive SIGKILL (a real child process on the same SQLite file)', () => {
  let dir = '';
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('a controller killed inside a step: the restarted one runs that step once more and finishes', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-ops-crash-'));
    const db = join(dir, 'ballast.db');
    const ledger = join(dir, 'ledger');
    child = spawn(join(root, 'node_modules/.bin/vite-node'), [join(here, 'testdata/crash-child.ts'), db, ledger, '2'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
    const lines = () => (existsSync(ledger) ? readFileSync(ledger, 'utf8').trim().split('\n') : []);
    // s2 hangs inside its executor; kill the process there, without any chance to clean up.
    await until(() => lines().includes('s2 1'), 'the child to reach step s2', 15_000);
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    const id = out.trim();
    expect(id).toMatch(/^op-[0-9a-f]{12}$/);

    const store = openStore({ path: db });
    try {
      expect(store.operations.steps(id).map((s) => s.state)).toEqual(['succeeded', 'succeeded', 'running', 'pending', 'pending']);
      const engine = new OperationEngine({ repo: store.operations, events: store.events, log: silentLogger(), registry: { kinds: [chainKind], executors: [appendingExecutor(ledger)] } });
      expect(engine.recover()).toEqual([id]);
      await engine.idle(id);
      expect(engine.get(id)).toMatchObject({ state: 'succeeded', progress: { done: 5, total: 5 } });
      expect(lines()).toEqual(['s0 1', 's1 1', 's2 1', 's2 2', 's3 1', 's4 1']);
      await engine.close();
    } finally {
      store.close();
    }
  }, 30_000);
});
