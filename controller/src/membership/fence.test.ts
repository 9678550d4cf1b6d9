/**
 * Fence agents, the answers sushy-tools does not give (test/integration/fence-redfish.test.ts proves
 * the agent against it): a real HTTP server here answers the reset with 202 or 409, offers no
 * ForceOff, redirects to another origin, or answers non-JSON. And fencing.yaml with the port.
 * The command agent's real-process tests: test/integration/fence-command.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFencePort, loadFencingConfig } from './fence.js';
import { redfishForceOff } from './redfish.js';

const dir = mkdtempSync(join(tmpdir(), 'ballast-fence-'));
let server: Server;
let origin = '';
const seen: string[] = [];
/** How the modelled BMC behaves; each test sets it. */
const bmc = { power: 'On', resetStatus: 204, allowed: ['On', 'ForceOff'] as string[], offAfterGets: 1, body: '' as string | null, redirect: '' };

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Basic ${Buffer.from('root:calvin').toString('base64')}`) return res.writeHead(401).end();
      if (bmc.redirect !== '') return res.writeHead(307, { location: bmc.redirect }).end();
      if (req.method === 'POST' && req.url === '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset') {
        if ((JSON.parse(body) as { ResetType?: string }).ResetType !== 'ForceOff') return res.writeHead(400).end();
        if (bmc.resetStatus < 300) bmc.power = 'PoweringOff';
        return res.writeHead(bmc.resetStatus, { 'content-type': 'application/json' }).end(bmc.resetStatus === 409 ? '{"error":{"message":"transition in progress"}}' : '');
      }
      if (req.method === 'GET' && req.url === '/redfish/v1/Systems/1') {
        if (bmc.power === 'PoweringOff' && --bmc.offAfterGets <= 0) bmc.power = 'Off';
        res.writeHead(200, { 'content-type': 'application/json' });
        if (bmc.body !== null) return res.end(bmc.body);
        return res.end(
          JSON.stringify({ Id: '1', PowerState: bmc.power, Actions: { '#ComputerSystem.Reset': { target: '/redfish/v1/Systems/1/Actions/ComputerSystem.Reset', 'ResetType@Redfish.AllowableValues': bmc.allowed } } }),
        );
      }
      res.writeHead(404).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

const signal = () => new AbortController().signal;
const fence = (over: Record<string, number> = {}) =>
  redfishForceOff({ host: 'cp-1', system: `${origin}/redfish/v1/Systems/1`, username: 'root', password: 'calvin', signal: signal(), pollMs: 10, ...over });
const reset = (patch: Partial<typeof bmc>) => {
  Object.assign(bmc, { power: 'On', resetStatus: 204, allowed: ['On', 'ForceOff'], offAfterGets: 1, body: null, redirect: '' }, patch);
  seen.length = 0;
};

describe('redfish answers sushy-tools does not give', () => {
  it('202 (a task started) accepts the reset; the poll decides', async () => {
    reset({ resetStatus: 202, offAfterGets: 2 });
    expect((await fence()).message).toBe(`cp-1 powered off through Redfish (${origin}/redfish/v1/Systems/1: ForceOff, then PowerState Off)`);
    expect(seen.filter((s) => s.startsWith('POST'))).toHaveLength(1);
  });

  it('409 to the reset is not an error: the poll decides (here it never reports Off, so the total limit ends it)', async () => {
    reset({ resetStatus: 409 });
    const err = (await fence({ totalMs: 200 }).catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/not confirmed Off within 200 ms \(last: PowerState On\)/);
    expect(seen.filter((s) => s.startsWith('POST'))).toHaveLength(1); // sent once, not repeated
  });

  it('a BMC that does not offer ForceOff is refused at once, listing what it offers', async () => {
    reset({ allowed: ['On', 'GracefulRestart'] });
    await expect(fence()).rejects.toThrow(/does not offer ResetType ForceOff \(it offers On, GracefulRestart\)/);
    expect(seen.filter((s) => s.startsWith('POST'))).toHaveLength(0);
  });

  it('a redirect to another origin is refused (it would carry the password there)', async () => {
    reset({ redirect: 'http://198.51.100.7/redfish/v1/Systems/1' });
    await expect(fence()).rejects.toThrow(/redirected to another origin \(http:\/\/198\.51\.100\.7\); refused/);
  });

  it('an answer that is not a ComputerSystem is retried and named', async () => {
    reset({ body: '<html>login</html>' });
    await expect(fence({ totalMs: 300 })).rejects.toThrow(/last: GET .*: the answer is not JSON/);
    reset({ body: '{"PowerState": 7}' });
    await expect(fence({ totalMs: 300 })).rejects.toThrow(/last: GET .*: the answer is not a Redfish ComputerSystem\)/);
  });

  it('the operation aborting ends the fence with its reason, not a fence failure', async () => {
    reset({ resetStatus: 409 });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('operation cancelled')), 50);
    await expect(redfishForceOff({ host: 'cp-1', system: `${origin}/redfish/v1/Systems/1`, username: 'root', password: 'calvin', signal: ac.signal, pollMs: 10 })).rejects.toThrow(/^operation cancelled$/);
  });
});

describe('fencing.yaml', () => {
  it('missing is empty, every problem is reported with its path; no agent needs the operator', async () => {
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

  it('a redfish agent whose password file is missing pauses the fence saying which file', async () => {
    const port = createFencePort({ hosts: { 'cp-1': { kind: 'redfish', system: `${origin}/redfish/v1/Systems/1`, username: 'root', passwordFile: join(dir, 'gone.pass') } } });
    await expect(port.fence('cp-1', { signal: signal(), confirmed: false })).rejects.toMatchObject({
      code: 'BALLAST_ERR_FENCE_FAILED',
      message: expect.stringMatching(/^failed to fence cp-1: cannot read its Redfish passwordFile .*gone\.pass: ENOENT/),
    });
  });
});
