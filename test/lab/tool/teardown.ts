import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { removeHostCgroups } from './cgroups.js';
import { stopController } from './controller.js';
import { sleep } from './exec.js';
import { isMounted, poweroff, unmountOverlay } from './host.js';
import { deleteNetns } from './net.js';
import { isAlive, signal } from './proc.js';
import { type LabState, labDir, readState, stateFile, writeState } from './state.js';

/**
 * Tearing a lab down: from the Lab object, from a Ctrl-C handler, or from any later process that
 * finds the state file (`downFromState`), removing exactly what the state names.
 */
/**
 * Teardowns in progress in this process, by lab dir: a Ctrl-C handler and a failing `up` may both
 * start one; the second joins the first instead of racing it.
 */
const teardowns = new Map<string, Promise<void>>();

/** Removes every resource named in `state`, in reverse order of creation, then the state itself. */
export function teardown(state: LabState, log: (msg: string) => void = () => {}): Promise<void> {
  const running = teardowns.get(state.dir);
  if (running) return running;
  const done = teardownOnce(state, log).finally(() => teardowns.delete(state.dir));
  teardowns.set(state.dir, done);
  return done;
}

async function teardownOnce(state: LabState, log: (msg: string) => void): Promise<void> {
  const problems: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  await attempt('stop the extra processes', async () => {
    for (const { what, proc } of state.extras ?? []) {
      const pid = proc.pid;
      if (!signal(proc, 'SIGKILL')) continue; // already gone (the test stopped it)
      for (let i = 0; i < 100 && isAlive(proc); i++) await sleep(50);
      if (isAlive(proc)) throw new Error(`${what} (pid ${pid}) still runs 5 s after SIGKILL`);
      log(`stopped ${what} (pid ${pid}), left running by the test that started it`);
    }
  });
  await Promise.all(
    state.hosts.map((h) =>
      attempt(`power off ${h.name}`, async () => {
        if (!isAlive(h.nspawn)) {
          removeHostCgroups(h.cgroups ?? []);
          return;
        }
        const t0 = Date.now();
        await poweroff(h);
        log(`powered off ${h.name} in ${Date.now() - t0} ms`);
      }),
    ),
  );
  await attempt('stop the controller', async () => {
    if (!isAlive(state.controller)) return;
    const t0 = Date.now();
    await stopController(state.controller);
    log(`stopped the controller in ${Date.now() - t0} ms`);
  });
  state.controller = null;
  for (const h of state.hosts) {
    await attempt(`unmount ${h.root}`, async () => {
      const t0 = Date.now();
      if (isMounted(h.root)) await unmountOverlay(h);
      if (Date.now() - t0 > 1000) log(`unmounting ${h.name} took ${Date.now() - t0} ms`);
      h.mounted = false;
    });
  }
  const tNet = Date.now();
  for (const ns of [...state.namespaces].reverse()) await attempt(`delete netns ${ns}`, () => deleteNetns(ns));
  if (Date.now() - tNet > 1000) log(`deleting namespaces took ${Date.now() - tNet} ms`);
  if (problems.length > 0) {
    writeState(state);
    throw new Error(`failed to tear the lab down completely (state kept in ${stateFile(state.dir)}):\n  ${problems.join('\n  ')}`);
  }
  // Mounts are gone (checked above), so removing the directory cannot reach into the base rootfs.
  if (state.hosts.some((h) => isMounted(h.root))) throw new Error('failed to tear the lab down: an overlay is still mounted');
  // The logs outlive the lab (for a failed run's post-mortem): moved beside it, replacing older ones.
  const logs = join(state.dir, 'logs');
  if (existsSync(logs)) {
    rmSync(`${state.dir}.last-logs`, { recursive: true, force: true });
    renameSync(logs, `${state.dir}.last-logs`);
  }
  // Bounded retries: a command the lab was running when interrupted (e.g. dpkg-deb -x) may still be
  // writing into the directory for a moment.
  await removeDir(state.dir);
  log(`lab down (logs kept in ${state.dir}.last-logs)`);
}

async function removeDir(dir: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      return;
    } catch (err) {
      if (attempt >= 10) throw err;
      await sleep(300);
    }
  }
}

/** `down` for a lab made by another process (or one that crashed): reads the state file. */
export async function downFromState(dir = labDir(), log: (msg: string) => void = () => {}): Promise<boolean> {
  const state = readState(dir);
  if (!state) return false;
  await teardown(state, log);
  return true;
}
