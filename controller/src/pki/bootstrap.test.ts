import { X509Certificate } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { caPublicKeyHash } from '../../../shared/src/pki.js';
import { ensurePki } from './bootstrap.js';
import { createCa, issueServerCert } from './ca.js';

let root: string;
let dataDir: string;
let logs: Array<Record<string, unknown>>;

/** A real pino logger whose lines land in `logs`, so tests can check what was reported. */
function captureLogger() {
  return pino({ level: 'debug' }, { write: (line: string) => logs.push(JSON.parse(line)) });
}

const SANS = { dnsNames: ['ctl.example'], ipAddresses: ['10.0.0.5'] };

async function run(sans = SANS) {
  return ensurePki({ dataDir, sans, log: captureLogger() });
}

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

async function read(name: string): Promise<string> {
  return readFile(join(dataDir, name), 'utf8');
}

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ballast-pki-'));
  dataDir = join(root, 'data'); // not created yet: ensurePki must make it
  logs = [];
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ensurePki', () => {
  it('creates the CA and server files with the right modes on first start', async () => {
    const pki = await run();
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(pki.paths.caCert)).toBe(0o644);
    expect(await mode(pki.paths.caKey)).toBe(0o600);
    expect(await mode(pki.paths.serverCert)).toBe(0o644);
    expect(await mode(pki.paths.serverKey)).toBe(0o600);
    expect(pki.paths.caCert).toBe(join(dataDir, 'ca.crt'));

    expect(await read('ca.crt')).toBe(pki.ca.certPem);
    expect(await read('server.key')).toBe(pki.server.keyPem);
    expect(pki.caHash).toBe(caPublicKeyHash(await read('ca.crt')));

    const server = new X509Certificate(pki.server.certPem);
    const ca = new X509Certificate(pki.ca.certPem);
    expect(server.checkIssued(ca) && server.verify(ca.publicKey)).toBe(true);
    for (const host of ['localhost', 'ctl.example']) expect(server.checkHost(host)).toBe(host);
    for (const ip of ['127.0.0.1', '::1', '10.0.0.5']) expect(server.checkIP(ip)).toBe(ip);

    expect(logs.every((l) => l.component === 'pki')).toBe(true);
    expect(logs.map((l) => l.msg)).toEqual(['created CA', 'issued server certificate']);
  });

  it('reuses everything on the next start', async () => {
    const first = await run();
    logs = [];
    const second = await run();
    expect(second.caHash).toBe(first.caHash);
    expect(second.ca).toEqual(first.ca);
    expect(second.server).toEqual(first.server);
    expect(await read('server.crt')).toBe(first.server.certPem);
    expect(logs.map((l) => l.msg)).toEqual(['loaded CA', 'loaded server certificate']);
  });

  it('reissues the server certificate, and keeps the CA, when a SAN is added', async () => {
    const first = await run();
    logs = [];
    const second = await run({ dnsNames: [...SANS.dnsNames, 'new.example'], ipAddresses: SANS.ipAddresses });
    expect(second.caHash).toBe(first.caHash);
    expect(await read('ca.crt')).toBe(first.ca.certPem);
    expect(await read('ca.key')).toBe(first.ca.keyPem);
    expect(second.server.certPem).not.toBe(first.server.certPem);
    expect(await read('server.crt')).toBe(second.server.certPem);
    expect(new X509Certificate(second.server.certPem).checkHost('new.example')).toBe('new.example');
    const issued = logs.find((l) => l.msg === 'issued server certificate');
    expect(issued?.reason).toBe('missing SANs new.example');
  });

  it('does not reissue when a SAN is dropped or respelled', async () => {
    const first = await run({ dnsNames: ['ctl.example'], ipAddresses: ['10.0.0.5', '::1'] });
    const second = await run({ dnsNames: ['CTL.example'], ipAddresses: ['0:0:0:0:0:0:0:1'] });
    expect(second.server).toEqual(first.server);
  });

  it('reissues a server certificate that expires within 30 days', async () => {
    const first = await run();
    const short = await issueServerCert({ ca: first.ca, commonName: 'x', dnsNames: [], ipAddresses: [], validityDays: 10 });
    await writeFile(first.paths.serverCert, short.certPem);
    await writeFile(first.paths.serverKey, short.keyPem);
    const second = await run();
    expect(second.server.certPem).not.toBe(short.certPem);
    expect(logs.find((l) => l.msg === 'issued server certificate' && l.reason === 'expires within 30 days')).toBeDefined();
  });

  it('reissues a server certificate whose key was replaced or lost', async () => {
    const first = await run();
    const other = await createCa({ commonName: 'unrelated' });
    await writeFile(first.paths.serverKey, other.keyPem);
    const second = await run();
    expect(second.server.certPem).not.toBe(first.server.certPem);
    await unlink(first.paths.serverKey);
    const third = await run();
    expect(third.server.certPem).not.toBe(second.server.certPem);
    expect(third.caHash).toBe(first.caHash);
  });

  it('narrows a private key left readable by others back to 0600', async () => {
    const first = await run();
    await chmod(first.paths.caKey, 0o644);
    await run();
    expect(await mode(first.paths.caKey)).toBe(0o600);
    expect(logs.some((l) => l.msg === 'narrowed private key permissions to 0600')).toBe(true);
  });

  it('refuses a CA key that does not match the CA certificate, touching nothing', async () => {
    const first = await run();
    const other = await createCa({ commonName: 'other' });
    await writeFile(first.paths.caKey, other.keyPem, { mode: 0o600 });
    const serverBefore = await read('server.crt');
    await expect(run()).rejects.toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
      message: expect.stringMatching(/ca\.key is not the private key of .*ca\.crt/),
    });
    expect(await read('ca.key')).toBe(other.keyPem);
    expect(await read('ca.crt')).toBe(first.ca.certPem);
    expect(await read('server.crt')).toBe(serverBefore);
  });

  it('refuses a CA key without its certificate and the other way round', async () => {
    const first = await run();
    const caCert = await read('ca.crt');
    await unlink(first.paths.caCert);
    await expect(run()).rejects.toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
      message: expect.stringMatching(/ca\.key exists but .*ca\.crt does not/),
    });
    await writeFile(first.paths.caCert, caCert);
    await unlink(first.paths.caKey);
    await expect(run()).rejects.toMatchObject({
      code: 'BALLAST_ERR_CONFIG',
      message: expect.stringMatching(/ca\.crt exists but .*ca\.key does not/),
    });
  });
});
