/**
 * The `command` fence agent with real processes: exit codes, BALLAST_FENCE_HOST, a timeout that
 * kills the whole process group (a wrapper script's `sleep` child included, even when the wrapper
 * ignores SIGTERM), output far larger than kept (bounded, and not a failure), a missing binary,
 * and the operation aborting. /bin/sh stands in for a wrapper script an operator would write; the
 * agent itself never uses a shell.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFenceCommand } from '../../controller/src/membership/fence-command.js';
import { waitFor } from './harness.js';

const never = () => new AbortController().signal;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('command fence agent (real processes)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ballast-fence-cmd-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('exit 0 confirms, with the host in BALLAST_FENCE_HOST and the end of stdout in the message', async () => {
    const out = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', 'echo "Chassis Power Control: Down/Off for $BALLAST_FENCE_HOST"'], timeoutMs: 10_000, signal: never() });
    expect(out).toEqual({ method: 'command', message: 'w-2 fenced by /bin/sh: Chassis Power Control: Down/Off for w-2' });
  });

  it('a non-zero exit is FENCE_FAILED with the code and the end of stderr; death by a signal is named', async () => {
    const bad = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', 'echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 3'], timeoutMs: 10_000, signal: never() }).catch((e: unknown) => e);
    expect(bad).toMatchObject({
      code: 'BALLAST_ERR_FENCE_FAILED',
      message: 'failed to fence w-2 with /bin/sh: exit code 3: Error: Unable to establish IPMI v2 / RMCP+ session; the host may still be running, nothing was removed',
    });
    const killed = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', 'kill -9 $$'], timeoutMs: 10_000, signal: never() }).catch((e: unknown) => e);
    expect((killed as Error).message).toMatch(/: killed by SIGKILL; the host may still be running/);
  });

  it('output far larger than kept is bounded and does not fail a command that exited 0', async () => {
    // 2 MiB on each stream, then a last line: the message holds the end of stdout only.
    const script = 'head -c 2097152 /dev/zero | tr "\\0" x; head -c 2097152 /dev/zero | tr "\\0" y >&2; echo; echo powered-off';
    const out = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', script], timeoutMs: 60_000, signal: never() });
    expect(out.message).toMatch(/^w-2 fenced by \/bin\/sh: x+\npowered-off$/);
    expect(out.message.length).toBeLessThanOrEqual(300);
  });

  it('the timeout kills the whole process group (a wrapper ignoring SIGTERM and its sleeping child) within the grace', async () => {
    const pids = join(dir, 'pids');
    // The wrapper ignores TERM and waits on a child that holds stdout open: execFile would hang here.
    const script = `trap "" TERM; sleep 300 & echo $$ $! > ${pids}; wait`;
    const t0 = Date.now();
    const err = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', script], timeoutMs: 1000, signal: never(), killGraceMs: 500 }).catch((e: unknown) => e);
    const ms = Date.now() - t0;
    expect(err).toMatchObject({ code: 'BALLAST_ERR_FENCE_FAILED' });
    expect((err as Error).message).toBe('failed to fence w-2 with /bin/sh: no answer within 1000 ms (its process group was killed); the host may still be running, nothing was removed');
    expect(ms).toBeGreaterThanOrEqual(1000);
    expect(ms).toBeLessThan(1000 + 500 + 1500);
    const [wrapper, sleeper] = readFileSync(pids, 'utf8').trim().split(' ').map(Number);
    await waitFor('the fence command group to be gone', () => (alive(wrapper as number) || alive(sleeper as number) ? undefined : true), 5000);
  });

  it('a command that exits 0 but leaves a child holding its output is not waited for beyond a second', async () => {
    const t0 = Date.now();
    const out = await runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', 'echo off; sleep 30 & exit 0'], timeoutMs: 20_000, signal: never() });
    expect(out.message).toBe('w-2 fenced by /bin/sh: off');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a missing binary is named; the operation aborting kills the command and rejects with its reason', async () => {
    const missing = await runFenceCommand({ host: 'w-2', argv: ['/nonexistent/ipmitool', 'chassis', 'power', 'off'], timeoutMs: 10_000, signal: never() }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'BALLAST_ERR_FENCE_FAILED' });
    expect((missing as Error).message).toMatch(/^failed to fence w-2 with \/nonexistent\/ipmitool: cannot run it \(spawn \/nonexistent\/ipmitool ENOENT\)/);

    const pidFile = join(dir, 'abort-pid');
    const ac = new AbortController();
    const run = runFenceCommand({ host: 'w-2', argv: ['/bin/sh', '-c', `echo $$ > ${pidFile}; exec sleep 300`], timeoutMs: 60_000, signal: ac.signal }).catch((e: unknown) => e);
    await waitFor('the fence command to start', () => (existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '' ? true : undefined), 5000);
    ac.abort(new Error('operation aborted by alice'));
    expect(((await run) as Error).message).toBe('operation aborted by alice');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    await waitFor('the aborted command to be gone', () => (alive(pid) ? undefined : true), 5000);
  });
});
