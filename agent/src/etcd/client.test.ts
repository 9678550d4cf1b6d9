/**
 * The etcd client against real HTTPS servers on port 0 that answer like etcd's JSON gateway
 * (mutual TLS required): shapes, fail-over, deadlines, size cap, refusals and cancellation.
 * Against real etcd: test/integration/etcd-member.test.ts.
 */
import 'reflect-metadata';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueClientCert, issueServerCert, type KeyPair } from '../../../controller/src/pki/ca.js';
import { rejection } from '../tasks/testing.js';
import { createEtcdClient, type EtcdTlsMaterial, memberIdHex } from './client.js';

type Handler = (path: string, body: unknown) => { status?: number; body?: unknown; raw?: string; hang?: boolean };

let ca: KeyPair;
let server: KeyPair;
let tls: EtcdTlsMaterial;
const servers: Server[] = [];
/** Requests seen by all servers, as "port path body". */
const seen: string[] = [];

beforeAll(async () => {
  ca = await createCa({ commonName: 'test-etcd-ca', validityDays: 1 });
  server = await issueServerCert({ ca, commonName: 'etcd', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], validityDays: 1 });
  const client = await issueClientCert({ ca, commonName: 'healthcheck', validityDays: 1 });
  tls = { ca: ca.certPem, cert: client.certPem, key: client.keyPem };
});
afterEach(() => {
  seen.length = 0;
});
afterAll(async () => {
  await Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((resolve) => {
          s.closeAllConnections();
          s.close(() => resolve());
        }),
    ),
  );
});

/** An etcd-like gateway answering from `handler`; resolves with its URL. */
async function gateway(handler: Handler): Promise<string> {
  const srv = createServer({ key: server.keyPem, cert: server.certPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    let text = '';
    req.on('data', (d: Buffer) => {
      text += d.toString();
    });
    req.on('end', () => {
      const port = (srv.address() as AddressInfo).port;
      seen.push(`${port} ${req.url} ${text}`);
      const answer = handler(req.url ?? '', JSON.parse(text || '{}'));
      if (answer.hang === true) return;
      res.writeHead(answer.status ?? 200, { 'content-type': 'application/json' });
      res.end(answer.raw ?? JSON.stringify(answer.body ?? {}));
    });
  });
  servers.push(srv);
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', () => resolve()));
  return `https://127.0.0.1:${(srv.address() as AddressInfo).port}`;
}

/** A URL nothing listens on (a server opened and closed). */
async function deadUrl(): Promise<string> {
  const url = await gateway(() => ({}));
  const srv = servers.pop() as Server;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return url;
}

const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '1', raft_term: '2' };
const etcdMembers = {
  header,
  members: [
    { ID: '10276657743932975437', name: 'h1', peerURLs: ['https://10.0.0.1:2380'], clientURLs: ['https://10.0.0.1:2379'] },
    { ID: '18446744073709551615', peerURLs: ['https://10.0.0.2:2380'], isLearner: true },
  ],
};

describe('etcd client', () => {
  it('lists members, keeping uint64 ids exact as decimal strings and filling omitted defaults', async () => {
    const url = await gateway(() => ({ body: etcdMembers }));
    expect(await createEtcdClient({ endpoints: [url], tls }).memberList()).toEqual([
      { id: '10276657743932975437', name: 'h1', peerUrls: ['https://10.0.0.1:2380'], clientUrls: ['https://10.0.0.1:2379'], isLearner: false },
      { id: '18446744073709551615', name: '', peerUrls: ['https://10.0.0.2:2380'], clientUrls: [], isLearner: true },
    ]);
    expect(memberIdHex('18446744073709551615')).toBe('ffffffffffffffff');
  });

  it('sends member add/promote/remove and status as the gateway expects', async () => {
    const url = await gateway((path) => {
      if (path.endsWith('/add')) return { body: { header, member: { ID: '42', peerURLs: ['https://10.0.0.3:2380'], isLearner: true }, members: [] } };
      if (path.endsWith('/status')) return { body: { header, version: '3.4.23', dbSize: '20480', leader: '7', raftIndex: '9', raftTerm: '2', raftAppliedIndex: '9' } };
      return { body: { header, members: [] } };
    });
    const client = createEtcdClient({ endpoints: [url], tls });
    expect(await client.memberAdd(['https://10.0.0.3:2380'], { isLearner: true })).toEqual({
      id: '42',
      name: '',
      peerUrls: ['https://10.0.0.3:2380'],
      clientUrls: [],
      isLearner: true,
    });
    await client.memberPromote('42');
    await client.memberRemove('42');
    expect(await client.status(url)).toEqual({
      memberId: '10276657743932975437',
      leader: '7',
      version: '3.4.23',
      raftIndex: '9',
      raftTerm: '2',
      dbSize: '20480',
      isLearner: false,
      errors: [],
    });
    expect(seen.map((s) => s.split(' ').slice(1).join(' '))).toEqual([
      '/v3/cluster/member/add {"peerURLs":["https://10.0.0.3:2380"],"isLearner":true}',
      '/v3/cluster/member/promote {"ID":"42"}',
      '/v3/cluster/member/remove {"ID":"42"}',
      '/v3/maintenance/status {}',
    ]);
  });

  it('tries endpoints in order, the first that answers wins', async () => {
    const dead = await deadUrl();
    const live = await gateway(() => ({ body: etcdMembers }));
    const client = createEtcdClient({ endpoints: [dead, live], tls });
    expect(await client.memberList()).toHaveLength(2);
    // Fails over on gRPC Unavailable ("no leader") too, for reads.
    const leaderless = await gateway(() => ({ status: 503, body: { error: 'etcdserver: no leader', message: 'etcdserver: no leader', code: 14 } }));
    expect(await createEtcdClient({ endpoints: [leaderless, live], tls }).memberList()).toHaveLength(2);
  });

  it('fails with BALLAST_ERR_ETCD_UNAVAILABLE naming every endpoint when none answers in time', async () => {
    const dead = await deadUrl();
    const hanging = await gateway(() => ({ hang: true }));
    const started = Date.now();
    const err = await rejection(createEtcdClient({ endpoints: [dead, hanging], tls, timeoutMs: 300 }).memberList());
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE' });
    expect((err as Error).message).toBe(`failed to list etcd members: no etcd endpoint answered: ${dead}: ECONNREFUSED; ${hanging}: no answer within 300 ms`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('does not send a mutation elsewhere once it may have reached a server', async () => {
    const hanging = await gateway(() => ({ hang: true }));
    const live = await gateway(() => ({ body: { header, member: { ID: '1' }, members: [] } }));
    const err = await rejection(createEtcdClient({ endpoints: [hanging, live], tls, timeoutMs: 300 }).memberAdd(['https://10.0.0.3:2380'], { isLearner: true }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE', message: expect.stringContaining('may have been applied; not retried elsewhere') });
    expect(seen.filter((s) => s.includes('/add'))).toHaveLength(1);
    // But one that never connected is: nothing can have been applied.
    const dead = await deadUrl();
    expect((await createEtcdClient({ endpoints: [dead, live], tls }).memberAdd(['https://10.0.0.3:2380'], { isLearner: true })).id).toBe('1');
  });

  it("keeps etcd's message in BALLAST_ERR_ETCD_REFUSED and does not fail over on a refusal", async () => {
    const refusing = await gateway(() => ({ status: 400, body: { error: 'etcdserver: Peer URLs already exists', message: 'etcdserver: Peer URLs already exists', code: 3 } }));
    const live = await gateway(() => ({ body: { header, member: { ID: '1' } } }));
    const err = await rejection(createEtcdClient({ endpoints: [refusing, live], tls }).memberAdd(['https://10.0.0.3:2380'], { isLearner: true }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_ETCD_REFUSED', message: `etcd at ${refusing} refused /v3/cluster/member/add: etcdserver: Peer URLs already exists` });
    expect(seen).toHaveLength(1);
  });

  it('refuses answers of the wrong shape, not JSON, or over the size cap', async () => {
    const wrong = await gateway(() => ({ body: { members: [{ name: 'no id' }] } }));
    expect(await rejection(createEtcdClient({ endpoints: [wrong], tls }).memberList())).toMatchObject({
      code: 'BALLAST_ERR_ETCD_REFUSED',
      message: expect.stringContaining('answered an unexpected shape (/members/0/ID'),
    });
    const html = await gateway(() => ({ raw: '<html>proxy error</html>' }));
    expect(await rejection(createEtcdClient({ endpoints: [html], tls }).memberList())).toMatchObject({
      code: 'BALLAST_ERR_ETCD_UNAVAILABLE',
      message: expect.stringContaining('not JSON'),
    });
    const huge = await gateway(() => ({ raw: JSON.stringify({ members: [], pad: 'x'.repeat(4096) }) }));
    expect(await rejection(createEtcdClient({ endpoints: [huge], tls, maxResponseBytes: 1024 }).memberList())).toMatchObject({
      code: 'BALLAST_ERR_ETCD_UNAVAILABLE',
      message: expect.stringContaining('answered more than 1024 bytes'),
    });
  });

  it('is refused by a server that does not trust our certificate, and refuses one we do not trust', async () => {
    const other = await createCa({ commonName: 'other-ca', validityDays: 1 });
    const stranger = await issueClientCert({ ca: other, commonName: 'x', validityDays: 1 });
    const url = await gateway(() => ({ body: etcdMembers }));
    expect(await rejection(createEtcdClient({ endpoints: [url], tls: { ...tls, cert: stranger.certPem, key: stranger.keyPem } }).memberList())).toMatchObject({
      code: 'BALLAST_ERR_ETCD_UNAVAILABLE',
    });
    expect(await rejection(createEtcdClient({ endpoints: [url], tls: { ...tls, ca: other.certPem } }).memberList())).toMatchObject({
      code: 'BALLAST_ERR_ETCD_UNAVAILABLE',
      message: expect.stringMatching(/CERT|certificate/i),
    });
  });

  it('stops at once when its signal is aborted', async () => {
    const hanging = await gateway(() => ({ hang: true }));
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    const started = Date.now();
    expect(await rejection(createEtcdClient({ endpoints: [hanging], tls, timeoutMs: 10_000 }).memberList({ signal: abort.signal }))).toMatchObject({
      code: 'BALLAST_ERR_CANCELLED',
    });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('grants, keeps alive and revokes leases and reads keys (for the VIP lease)', async () => {
    const url = await gateway((path) => {
      if (path === '/v3/lease/grant') return { body: { header, ID: '7587869542315570435', TTL: '10' } };
      if (path === '/v3/lease/keepalive') return { body: { result: { header, ID: '7587869542315570435', TTL: '9' } } };
      if (path === '/v3/kv/range') return { body: { header, kvs: [{ key: Buffer.from('/vip').toString('base64'), value: Buffer.from('h1').toString('base64'), create_revision: '4', mod_revision: '5', version: '1', lease: '7587869542315570435' }], count: '1' } };
      return { body: { header } };
    });
    const client = createEtcdClient({ endpoints: [url], tls });
    expect(await client.leaseGrant(10)).toEqual({ id: '7587869542315570435', ttlSeconds: 10 });
    expect(await client.leaseKeepAlive('7587869542315570435')).toEqual({ ttlSeconds: 9 });
    await client.leaseRevoke('7587869542315570435');
    expect(await client.post('/v3/kv/txn', { compare: [] }, { timeoutMs: 500 })).toEqual({ header });
    expect(await rejection(client.post('https://elsewhere/', {}))).toMatchObject({ code: 'BALLAST_ERR_INTERNAL' });
    expect(await client.get('/vip')).toEqual({ key: '/vip', value: 'h1', createRevision: '4', modRevision: '5', version: '1', lease: '7587869542315570435' });
  });
});
