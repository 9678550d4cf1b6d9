/**
 * Hand-written fakes of the task ports (STYLE.md §12), shared by the module, engine and supervisor
 * tests. Plain code with no test-framework imports, so it also serves lab tools.
 */
import { createHash } from 'node:crypto';
import { lstat, mkdtemp, readdir, readFile, readlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../shared/src/log.js';
import type { ModuleContext } from './module.js';
import type { ExecOptions, ExecPort, ExecResult, SystemdPort, UnitActiveState } from '../host/ports.js';

/** A fresh empty directory to use as a module context's root. */
export function makeTempRoot(prefix = 'ballast-tasks-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/**
 * Every entry under `root` with type, mode, owner and a content hash, so two snapshots are equal
 * exactly when nothing was created, removed, written, chmod-ed or chown-ed.
 */
export async function snapshotTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const full = join(dir, name);
      const stat = await lstat(full);
      const rel = full.slice(root.length);
      const meta = `${(stat.mode & 0o7777).toString(8)} ${stat.uid}:${stat.gid}`;
      if (stat.isDirectory()) {
        out[rel] = `dir ${meta}`;
        await walk(full);
      } else if (stat.isSymbolicLink()) {
        out[rel] = `link ${await readlink(full)}`;
      } else {
        out[rel] = `file ${meta} ${createHash('sha256').update(await readFile(full)).digest('hex')}`;
      }
    }
  };
  await walk(root);
  return out;
}

/** An {@link ExecPort} that records argv and answers from a handler (default: exit 0, no output). */
export interface FakeExec extends ExecPort {
  calls: string[][];
}

/** Creates a {@link FakeExec}. */
export function fakeExec(handler?: (argv: string[], opts?: ExecOptions) => ExecResult | Promise<ExecResult>): FakeExec {
  const calls: string[][] = [];
  const exec = (async (argv: string[], opts?: ExecOptions) => {
    calls.push([...argv]);
    return handler ? handler(argv, opts) : { code: 0, stdout: '', stderr: '' };
  }) as FakeExec;
  exec.calls = calls;
  return exec;
}

/** A {@link SystemdPort} over in-memory sets, recording every mutating call as "verb unit". */
export class FakeSystemd implements SystemdPort {
  readonly calls: string[] = [];
  readonly enabled = new Set<string>();
  readonly active = new Set<string>();
  /** Units whose restart throws (a unit that cannot start). */
  readonly failing = new Set<string>();
  /** A state word that overrides `active` for a unit (e.g. `deactivating`: a stop in progress); cleared by start/stop/restart. */
  readonly states = new Map<string, UnitActiveState>();

  constructor(init: { enabled?: string[]; active?: string[] } = {}) {
    for (const unit of init.enabled ?? []) this.enabled.add(unit);
    for (const unit of init.active ?? []) this.active.add(unit);
  }

  async daemonReload(): Promise<void> {
    this.calls.push('daemon-reload');
  }
  async isEnabled(unit: string): Promise<boolean> {
    return this.enabled.has(unit);
  }
  async enable(unit: string): Promise<void> {
    this.calls.push(`enable ${unit}`);
    this.enabled.add(unit);
  }
  async disable(unit: string): Promise<void> {
    this.calls.push(`disable ${unit}`);
    this.enabled.delete(unit);
  }
  async isActive(unit: string): Promise<boolean> {
    const state = await this.activeState(unit);
    return state === 'active' || state === 'reloading' || state === 'activating';
  }
  async activeState(unit: string): Promise<UnitActiveState> {
    return this.states.get(unit) ?? (this.active.has(unit) ? 'active' : 'inactive');
  }
  async start(unit: string): Promise<void> {
    this.calls.push(`start ${unit}`);
    this.activate(unit);
  }
  async stop(unit: string): Promise<void> {
    this.calls.push(`stop ${unit}`);
    this.states.delete(unit);
    this.active.delete(unit);
  }
  async restart(unit: string): Promise<void> {
    this.calls.push(`restart ${unit}`);
    this.activate(unit);
  }

  private activate(unit: string): void {
    this.states.delete(unit);
    if (this.failing.has(unit)) throw new Error(`Job for ${unit} failed because the control process exited with error code.`);
    this.active.add(unit);
  }
}

/** A module context over `root` with fakes for every port; override what a test inspects. */
export function testContext(root: string, overrides: Partial<ModuleContext> = {}): ModuleContext {
  return {
    root,
    check: false,
    diff: true,
    signal: new AbortController().signal,
    log: silentLogger(),
    exec: fakeExec(),
    systemd: new FakeSystemd(),
    ...overrides,
  };
}

/** What a promise rejected with, or an Error saying it resolved; for `expect(...).toMatchObject({ code })`. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return new Error('expected a rejection, but the promise resolved');
}
