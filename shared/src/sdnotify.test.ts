import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNotifier, type SpawnFn, watchdogIntervalFrom } from './sdnotify.js';

/** A hand-written fake helper: records argv and lets the test decide when and how it exits. */
class FakeChild extends EventEmitter {
  killedWith: string | null = null;
  kill(signal: string): boolean {
    this.killedWith = signal;
    return true;
  }
}

function fakeSpawn() {
  const calls: Array<{ command: string; args: string[]; env: NodeJS.ProcessEnv; child: FakeChild }> = [];
  const fn: SpawnFn = (command, args, options) => {
    const child = new FakeChild();
    calls.push({ command, args, env: options.env, child });
    return child as unknown as ChildProcess;
  };
  return { fn, calls };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('createNotifier', () => {
  it('is a no-op without NOTIFY_SOCKET', async () => {
    const { fn, calls } = fakeSpawn();
    const n = createNotifier({ WATCHDOG_USEC: '1000000' }, { spawn: fn });
    n.ready();
    n.watchdog();
    n.status('x');
    n.stopping();
    await n.idle();
    expect(calls).toHaveLength(0);
    expect(n.enabled).toBe(false);
    expect(n.watchdogIntervalMs).toBeNull();
  });

  it('sends with --pid of the main process and only NOTIFY_SOCKET and PATH in the environment', async () => {
    const { fn, calls } = fakeSpawn();
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/x', PATH: '/bin', SECRET: 's' };
    const n = createNotifier(env, { spawn: fn, pid: 4242 });
    n.ready();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.command).toBe('systemd-notify');
    expect(calls[0]?.args).toEqual(['--no-block', '--pid=4242', 'READY=1']);
    expect(calls[0]?.env).toEqual({ NOTIFY_SOCKET: '/run/x', PATH: '/bin' });
    calls[0]?.child.emit('exit', 0, null);
    await n.idle();
  });

  it('never runs two helpers at once and coalesces what arrives meanwhile', async () => {
    const { fn, calls } = fakeSpawn();
    const n = createNotifier({ NOTIFY_SOCKET: '@sock' }, { spawn: fn, pid: 1 });
    n.ready();
    n.watchdog();
    n.watchdog();
    n.status('first');
    n.status('second');
    n.watchdog();
    expect(calls).toHaveLength(1);
    calls[0]?.child.emit('exit', 0, null);
    await tick();
    expect(calls).toHaveLength(2);
    expect(calls[1]?.args).toEqual(['--no-block', '--pid=1', 'WATCHDOG=1', 'STATUS=second']);
    calls[1]?.child.emit('exit', 0, null);
    await n.idle();
    expect(calls).toHaveLength(2);
  });

  it('reports failures without throwing and keeps sending', async () => {
    const errors: string[] = [];
    let fail = true;
    const { fn: inner, calls } = fakeSpawn();
    const fn: SpawnFn = (c, a, o) => {
      if (fail) throw new Error('EAGAIN');
      return inner(c, a, o);
    };
    const n = createNotifier({ NOTIFY_SOCKET: '@s' }, { spawn: fn, onError: (e) => errors.push(e.message) });
    expect(() => n.ready()).not.toThrow();
    await n.idle();
    expect(errors).toEqual(['failed to start systemd-notify: EAGAIN']);
    fail = false;
    n.watchdog();
    calls[0]?.child.emit('error', new Error('spawn systemd-notify ENOENT'));
    await tick();
    n.stopping();
    calls[1]?.child.emit('exit', 1, null);
    await n.idle();
    expect(errors.slice(1)).toEqual([
      'failed to start systemd-notify: spawn systemd-notify ENOENT',
      'failed to notify systemd: systemd-notify exited with 1',
    ]);
  });

  it('kills a helper that hangs and goes on', async () => {
    const errors: string[] = [];
    const { fn, calls } = fakeSpawn();
    const n = createNotifier({ NOTIFY_SOCKET: '@s' }, { spawn: fn, timeoutMs: 20, onError: (e) => errors.push(e.message) });
    n.ready();
    n.watchdog();
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(calls[0]?.child.killedWith).toBe('SIGKILL');
    expect(errors[0]).toMatch(/did not finish within 20 ms/);
    expect(calls[1]?.args).toEqual(['--no-block', `--pid=${process.pid}`, 'WATCHDOG=1']);
    calls[1]?.child.emit('exit', 0, null);
    await n.idle();
  });

  it('keeps a status on one line so it cannot inject other assignments', () => {
    const { fn, calls } = fakeSpawn();
    const n = createNotifier({ NOTIFY_SOCKET: '@s' }, { spawn: fn, pid: 7 });
    n.status('connected\nMAINPID=1');
    expect(calls[0]?.args).toEqual(['--no-block', '--pid=7', 'STATUS=connected MAINPID=1']);
  });

  it('removes the notify variables from the environment it was given (unset_environment)', () => {
    const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '@s', WATCHDOG_USEC: '4000000', WATCHDOG_PID: '9', KEEP: '1' };
    const n = createNotifier(env, { spawn: fakeSpawn().fn, pid: 9 });
    expect(n.watchdogIntervalMs).toBe(2000);
    expect(env).toEqual({ KEEP: '1' });
  });
});

describe('watchdogIntervalFrom', () => {
  it('is half of WATCHDOG_USEC in ms, and only for our pid', () => {
    expect(watchdogIntervalFrom({ WATCHDOG_USEC: '10000000' }, 5)).toBe(5000);
    expect(watchdogIntervalFrom({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '5' }, 5)).toBe(5000);
    expect(watchdogIntervalFrom({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '6' }, 5)).toBeNull();
    expect(watchdogIntervalFrom({ WATCHDOG_USEC: '0' }, 5)).toBeNull();
    expect(watchdogIntervalFrom({ WATCHDOG_USEC: 'abc' }, 5)).toBeNull();
    expect(watchdogIntervalFrom({}, 5)).toBeNull();
  });
});

// The real helper against a real datagram socket (python3 binds it: Node cannot). Proves the argv we
// build is what systemd-notify accepts and that it delivers; systemd's crediting is proven in the lab.
const haveTools = ['systemd-notify', 'python3'].every((b) => spawnSync('sh', ['-c', `command -v ${b}`]).status === 0);
describe.skipIf(!haveTools)('with the real systemd-notify', () => {
  it('delivers READY=1 and STATUS to NOTIFY_SOCKET', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sdnotify-'));
    const sock = join(dir, 'notify');
    const receiver = spawn('python3', [
      '-c',
      [
        'import socket,sys',
        's=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)',
        `s.bind(${JSON.stringify(sock)})`,
        'print("bound",flush=True)',
        's.settimeout(10)',
        'for _ in range(2): print(s.recv(4096).decode().replace("\\n","|"),flush=True)',
      ].join('\n'),
    ]);
    try {
      let out = '';
      receiver.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      await waitFor(() => out.includes('bound'), 5000);
      const errors: Error[] = [];
      // pid = our own pid: no credential forging needed, so this also runs as non-root.
      const n = createNotifier({ NOTIFY_SOCKET: sock, PATH: process.env.PATH }, { onError: (e) => errors.push(e) });
      n.ready();
      n.status('up');
      await n.idle();
      await waitFor(() => out.includes('STATUS=up'), 5000);
      expect(errors).toEqual([]);
      expect(out).toContain('READY=1');
    } finally {
      receiver.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
