/**
 * Fence agents with real processes and a real HTTP server: the command agent runs an argv (never
 * a shell) and only exit 0 confirms; the Redfish agent sends ForceOff with basic auth and polls
 * PowerState until Off, failing after its total deadline with the last state. (The lab proves it
 * against a Redfish server that is not ours; this server speaks the same three requests.)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFencePort, loadFencingConfig, runFenceCommand } from './fence.js';
import { redfishForceOff } from './redfish.js';

const dir = mkdtempSync(join(tmpdir(), 'ballast-fence-'));
let server: Server;
let base = '';
const seen: string[] = [];
let power = 'On';
let turnsOffAfter = 2; // GETs after the reset until PowerState is Off

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Basic ${Buffer.from('root:calvin').toString('base64')}`) return res.writeHead(401).end();
      if (req.method === 'POST' && req.url === '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset') {
        if ((JSON.parse(body) as { ResetType?: string }).ResetType !== 'ForceOff') return res.writeHead(400).end();
        power = 'PoweringOff';
        return res.writeHead(204).end();
      }
      if (req.method === 'GET' && req.url === '/redfish/v1/Systems/1') {
        if (power === 'PoweringOff' && --turnsOffAfter <= 0) power = 'Off';
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ Id: '1', PowerState: power }));
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/redfish/v1/Systems/1`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const signal = () => new AbortController().signal;

describe('fencing', () => {
  it('redfish: ForceOff with basic auth, then polls until PowerState Off', async () => {
    const out = await redfishForceOff({ host: 'cp-1', system: base, username: 'root', password: 'calvin', signal: signal(), pollMs: 10 });
    expect(out).toEqual({ method: 'redfish', message: `cp-1 powered off through Redfish (${base}: PowerState Off)` });
    expect(seen.filter((s) => s.startsWith('POST')).map((s) => s.split(' ')[1])).toEqual(['/redfish/v1/Systems/1/Actions/ComputerSystem.Reset']);
    expect(seen.filter((s) => s.startsWith('GET')).length).toBeGreaterThanOrEqual(2);
  });

  it('redfish: wrong credentials or a host that never reports Off fail after the deadline with the last answer', async () => {
    const denied = await redfishForceOff({ host: 'cp-1', system: base, username: 'root', password: 'nope', signal: signal(), pollMs: 10, totalMs: 100 }).catch((e: unknown) => e);
    expect(denied).toMatchObject({ code: 'BALLAST_ERR_FENCE_FAILED' });
    expect((denied as Error).message).toMatch(/^failed to fence cp-1 through Redfish at .*: not confirmed Off within 0 s \(last: reset answered 401: \); nothing was removed$/);
    power = 'On';
    turnsOffAfter = 1_000_000;
    const stuck = await redfishForceOff({ host: 'cp-1', system: base, username: 'root', password: 'calvin', signal: signal(), pollMs: 10, totalMs: 100 }).catch((e: unknown) => e);
    expect((stuck as Error).message).toMatch(/last: PowerState PoweringOff\)/);
  });

  it('command: exit 0 confirms with the host in BALLAST_FENCE_HOST; a failure or a timeout is FENCE_FAILED', async () => {
    const ok = await runFenceCommand('w-2', [process.execPath, '-e', 'process.stdout.write("off " + process.env.BALLAST_FENCE_HOST)'], 10_000, signal());
    expect(ok).toEqual({ method: 'command', message: `w-2 fenced by ${process.execPath}: off w-2` });
    const bad = await runFenceCommand('w-2', [process.execPath, '-e', 'console.error("pdu busy"); process.exit(3)'], 10_000, signal()).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/^failed to fence w-2 with .*: exit code 3: pdu busy; the host may still be running, nothing was removed$/);
    const slow = await runFenceCommand('w-2', [process.execPath, '-e', 'setTimeout(() => {}, 10000)'], 1000, signal()).catch((e: unknown) => e);
    expect((slow as Error).message).toMatch(/no answer within 1000 ms/);
  });

  it('fencing.yaml: missing is empty, every problem is reported with its path; no agent needs the operator', async () => {
    expect(loadFencingConfig(join(dir, 'none.yaml'))).toEqual({ hosts: {} });
    writeFileSync(join(dir, 'bad.yaml'), 'hosts:\n  cp-1:\n    kind: ipmi\n');
    expect(() => loadFencingConfig(join(dir, 'bad.yaml'))).toThrow(/failed to load .*bad\.yaml: \/hosts\/cp-1/);
    writeFileSync(join(dir, 'good.yaml'), `hosts:\n  cp-1:\n    kind: command\n    argv: [${JSON.stringify(process.execPath)}, -e, "0"]\n`);
    const port = createFencePort(loadFencingConfig(join(dir, 'good.yaml')));
    expect(port.describe('cp-1')).toBe(`command ${process.execPath}`);
    expect((await port.fence('cp-1', { signal: signal(), confirmed: false })).method).toBe('command');
    await expect(port.fence('cp-2', { signal: signal(), confirmed: false })).rejects.toMatchObject({ code: 'BALLAST_ERR_FENCE_FAILED' });
    expect(await port.fence('cp-2', { signal: signal(), confirmed: true })).toEqual({ method: 'operator', message: 'cp-2 confirmed powered off by the operator (no fence agent configured)' });
  });
});
