import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { SystemdPort } from '../host/ports.js';
import { makeTempRoot } from '../tasks/testing.js';
import { CONTAINERD_VERSION_PATH, probeGrpcUnix } from './grpc-probe.js';
import { createUnitSupervisor } from './supervisor.js';

/** A tiny containerd stand-in (k0s's pingpong idea): answers the Version call on a unix socket. */
const FAKE_CONTAINERD = `
const http2 = require('node:http2');
const fs = require('node:fs');
const socket = process.argv[1];
try { fs.unlinkSync(socket); } catch {}
const server = http2.createServer();
server.on('stream', (stream) => {
  const payload = Buffer.concat([Buffer.from([0x0a, 4]), Buffer.from('fake')]);
  const frame = Buffer.alloc(5); frame.writeUInt32BE(payload.length, 1);
  stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(Buffer.concat([frame, payload]));
});
server.listen(socket);
`;

/** A SystemdPort whose one unit is a real child process: restart spawns it, isActive asks whether it lives. */
function processSystemd(socket: string) {
  let child: ChildProcess | null = null;
  const restarts: number[] = [];
  const port: SystemdPort = {
    daemonReload: async () => {},
    isEnabled: async () => true,
    enable: async () => {},
    disable: async () => {},
    isActive: async () => child !== null && child.exitCode === null && child.signalCode === null,
    activeState: async () => ((await port.isActive('fake.service')) ? 'active' : 'inactive'),
    start: async () => port.restart('fake.service'),
    stop: async () => {
      child?.kill('SIGKILL');
    },
    restart: async () => {
      child?.kill('SIGKILL');
      restarts.push(Date.now());
      child = spawn(process.execPath, ['-e', FAKE_CONTAINERD, socket], { stdio: 'ignore' });
    },
  };
  return { port, restarts, kill: () => child?.kill('SIGKILL'), get child() { return child; } };
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  await cleanup?.();
  cleanup = null;
});

describe('component supervisor with a real process', () => {
  it('restores a killed daemon and reports the repair', async () => {
    const socket = join(await makeTempRoot(), 'fake.sock');
    const unit = processSystemd(socket);
    const events: { kind: string; message: string }[] = [];
    const supervisor = createUnitSupervisor({
      source: async () => [{ name: 'containerd', unit: 'fake.service', probe: () => probeGrpcUnix({ socket, path: CONTAINERD_VERSION_PATH, timeoutMs: 500 }) }],
      systemd: unit.port,
      events: { sendEvent: (kind, message) => events.push({ kind, message }) },
      log: silentLogger(),
      // A second of grace (4 × 250 ms) covers node's start-up even on a busy machine.
      policy: { intervalMs: 250, failureThreshold: 4, backoffInitialMs: 100, backoffMaxMs: 400 },
      tickMs: 20,
    });
    cleanup = async () => {
      await supervisor.stop();
      unit.kill();
      await rm(socket, { force: true });
    };
    const until = async (what: () => boolean, ms = 10_000) => {
      const deadline = Date.now() + ms;
      while (!what()) {
        if (Date.now() > deadline) throw new Error('condition not met in time');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    supervisor.start();
    // Not running at first: started, then healthy once the child listens.
    await until(() => events.some((e) => e.kind === 'component.repaired'));
    expect(unit.restarts.length).toBeGreaterThanOrEqual(1);
    const restartsBefore = unit.restarts.length;
    // Killed by hand: restored and reported again.
    unit.kill();
    await until(() => events.filter((e) => e.kind === 'component.repaired').length === 2);
    expect(unit.restarts.length).toBeGreaterThan(restartsBefore);
    expect(events[0]?.kind).toBe('component.failed');
    expect(events.at(-2)?.kind).toBe('component.failed');
    expect(events.at(-1)?.message).toMatch(/^containerd is healthy again after \d+ restarts?: .* answers \(version fake\)$/);
    expect(await supervisor.checks()[0]?.run()).toMatchObject({ ok: true });
  });
});
