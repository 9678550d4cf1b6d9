import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { CertInfo } from '../../../shared/src/certs-api.js';
import { type CtlResult, runCtl } from '../testing.js';
import { certTable } from './certs.js';

// A stand-in controller on 127.0.0.1 serving GET /v1/certs, as ctl/api.test.ts does for the other routes.
const TOKEN = 'blst_viewer';

const item = (over: Partial<CertInfo>): CertInfo => ({
  cluster: 'prod',
  name: 'etcd-ca',
  kind: 'ca',
  subject: 'CN=etcd-ca',
  sans: [],
  notAfter: '2034-05-01T12:00:00.000Z',
  daysLeft: 3649,
  ...over,
});
const ITEMS: CertInfo[] = [
  item({ name: 'sa', kind: 'keypair', subject: 'service-account signing key (RSA 2048)', notAfter: null, daysLeft: null }),
  item({ name: 'etcd-server:etcd-1', kind: 'cert', subject: 'CN=etcd-1', sans: ['etcd-1', 'localhost', '10.0.0.11'], notAfter: '2025-05-01T12:00:00.000Z', daysLeft: 12 }),
  item({}),
  item({ name: 'bootstrap-token', kind: 'token', subject: 'bootstrap-token-abcdef', notAfter: '2024-05-01T12:00:00.000Z', daysLeft: -3 }),
];

interface Fake {
  url: string;
  items: CertInfo[];
  requests: { url: string; auth: string | undefined }[];
  close(): Promise<void>;
}

async function startFake(items: CertInfo[]): Promise<Fake> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.requests.push({ url: req.url ?? '', auth: req.headers.authorization });
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.headers.authorization !== `Bearer ${TOKEN}`) return send(401, { code: 'BALLAST_ERR_UNAUTHENTICATED', message: 'unknown token' });
    if (url.pathname !== '/v1/certs') return send(404, { code: 'BALLAST_ERR_NOT_FOUND', message: `no route ${url.pathname}` });
    const cluster = url.searchParams.get('cluster');
    send(200, { items: fake.items.filter((i) => cluster === null || i.cluster === cluster) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: Fake = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    items,
    requests: [],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}

const dir = mkdtempSync(join(tmpdir(), 'ballastctl-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fake: Fake | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

const ctl = (argv: string[], server: string): Promise<CtlResult> => runCtl(argv, { dir, server, token: TOKEN });

describe('ballastctl certs', () => {
  it('prints a table sorted by name with SANs, expiry dates and days left', async () => {
    fake = await startFake(ITEMS);
    const { code, out, err } = await ctl(['certs', '--cluster', 'prod'], fake.url);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(fake.requests[0]).toEqual({ url: '/v1/certs?cluster=prod', auth: `Bearer ${TOKEN}` });
    expect(out.split('\n')).toEqual([
      'NAME                 KIND      SUBJECT                                  SANS                         EXPIRES',
      'bootstrap-token      token     bootstrap-token-abcdef                   <none>                       2024-05-01 (expired)',
      'etcd-ca              ca        CN=etcd-ca                               <none>                       2034-05-01 (3649d)',
      'etcd-server:etcd-1   cert      CN=etcd-1                                etcd-1,localhost,10.0.0.11   2025-05-01 (12d)',
      'sa                   keypair   service-account signing key (RSA 2048)   <none>                       <none>',
      '',
    ]);
  });

  it('shows what is left of a token with less than a day to live in hours, not as (0d)', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const token = item({ name: 'bootstrap-token', kind: 'token', subject: 'bootstrap-token-abcdef', notAfter: '2026-01-01T23:30:00.000Z', daysLeft: 0 });
    expect(certTable([token], false, now)).toContain('2026-01-01 (23h left)');
    expect(certTable([{ ...token, notAfter: '2026-01-01T00:40:00.000Z' }], false, now)).toContain('2026-01-01 (40m left)');
  });

  it('-o json prints exactly the API response', async () => {
    fake = await startFake(ITEMS);
    const { code, out } = await ctl(['certs', '-o', 'json'], fake.url);
    expect(code).toBe(0);
    expect(out).toBe(`${JSON.stringify({ items: ITEMS }, null, 2)}\n`);
    expect(fake.requests[0]?.url).toBe('/v1/certs');
  });

  it('adds a CLUSTER column only when several clusters are listed', () => {
    const table = certTable([item({ cluster: 'prod' }), item({ cluster: 'dev' })]);
    expect(table.split('\n')[0]).toMatch(/^CLUSTER\s+NAME\s+KIND/);
    expect(table.split('\n')[1]).toMatch(/^dev\s+etcd-ca/);
  });

  it('says clearly when there is nothing to list', async () => {
    fake = await startFake(ITEMS);
    const one = await ctl(['certs', '--cluster', 'staging'], fake.url);
    expect(one).toEqual({ code: 0, out: '', err: 'No certificates for cluster "staging": it has not been bootstrapped (or the name is wrong).\n' });
    fake.items = [];
    const all = await ctl(['certs'], fake.url);
    expect(all.err).toBe('No cluster PKI yet: the controller issues it when a cluster is bootstrapped.\n');
  });

  it('rejects a malformed --cluster as a usage error without calling the controller', async () => {
    fake = await startFake(ITEMS);
    const { code, out, err } = await ctl(['certs', '--cluster', 'Prod_1'], fake.url);
    expect({ code, out }).toEqual({ code: 2, out: '' });
    expect(err).toMatch(/^error: option '--cluster <name>' argument 'Prod_1' is invalid\. cluster names are/);
    expect(fake.requests).toEqual([]);
  });

  it('documents itself in --help', async () => {
    const { code, out } = await ctl(['certs', '--help'], 'http://127.0.0.1:9');
    expect(code).toBe(0);
    expect(out).toContain('Usage: ballastctl certs [options]');
    expect(out).toContain('--cluster <name>');
    expect(out).toContain('ballastctl certs -o json');
  });
});
