import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdLeaseKv, createHttpsEtcdTransport, type EtcdTransport } from '../etcd/lease.js';
import { createEtcdVipStore } from './store.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Answers as etcd 3.4's gateway did when checked by hand (see lease.ts). */
function scripted(answers: Record<string, (body: Record<string, unknown>) => unknown>) {
  const calls: { path: string; body: Record<string, unknown> }[] = [];
  const transport: EtcdTransport = {
    async post(path, body) {
      calls.push({ path, body: body as Record<string, unknown> });
      const answer = answers[path];
      if (answer === undefined) throw new Error(`unexpected ${path}`);
      return answer(body as Record<string, unknown>);
    },
  };
  return { transport, calls };
}

describe('etcd lease calls (gateway JSON)', () => {
  it('grant, keep-alive (TTL absent = gone), revoke', async () => {
    const { transport, calls } = scripted({
      '/v3/lease/grant': () => ({ header: {}, ID: '4111120186730536197', TTL: '2' }),
      '/v3/lease/keepalive': (b) => (b.ID === '1' ? { result: { ID: '1', TTL: '2' } } : { result: { ID: b.ID } }),
      '/v3/lease/revoke': () => ({ header: {} }),
    });
    const kv = createEtcdLeaseKv(transport);
    expect(await kv.grant(2, { timeoutMs: 100 })).toEqual({ id: '4111120186730536197', ttlSeconds: 2 });
    expect(await kv.keepAlive('1', { timeoutMs: 100 })).toEqual({ ttlSeconds: 2 });
    expect(await kv.keepAlive('2', { timeoutMs: 100 })).toEqual({ ttlSeconds: 0 });
    await kv.revoke('1', { timeoutMs: 100 });
    expect(calls.map((c) => c.body)).toEqual([{ TTL: '2' }, { ID: '1' }, { ID: '2' }, { ID: '1' }]);
  });

  it('create-if-absent is a txn on create_revision == 0 with no lease; the term is the put revision', async () => {
    let exists = false;
    const { transport, calls } = scripted({
      '/v3/kv/txn': () => {
        if (!exists) {
          exists = true;
          return { header: { revision: '7' }, succeeded: true, responses: [{ response_put: { header: { revision: '7' } } }] };
        }
        return {
          header: { revision: '8' },
          responses: [{ response_range: { kvs: [{ key: b64('/ballast/vip/api/holder'), value: b64('{"host":"a","since":5,"nonce":"n1","beat":1}'), create_revision: '7', mod_revision: '8' }] } }],
        };
      },
    });
    const store = createEtcdVipStore({ kv: createEtcdLeaseKv(transport), name: 'api' });
    const value = { host: 'a', since: 5, nonce: 'n1', beat: 0 };
    expect(await store.tryAcquire(value, 100)).toEqual({ won: true, term: '7' });
    expect(await store.tryAcquire({ host: 'b', since: 6, nonce: 'n2', beat: 0 }, 100)).toEqual({ won: false, holder: { host: 'a', since: 5, nonce: 'n1', term: '7', revision: '8' } });
    expect(calls[0]!.body).toEqual({
      compare: [{ key: b64('/ballast/vip/api/holder'), target: 'CREATE', result: 'EQUAL', create_revision: '0' }],
      success: [{ request_put: { key: b64('/ballast/vip/api/holder'), value: b64(JSON.stringify(value)), lease: '0' } }],
      failure: [{ request_range: { key: b64('/ballast/vip/api/holder') } }],
    });
  });

  it('a heartbeat is a put guarded by create_revision == term; a takeover a delete guarded by mod_revision', async () => {
    const { transport, calls } = scripted({
      '/v3/kv/txn': (b) => {
        const cmp = (b.compare as Array<Record<string, string>>)[0]!;
        if (cmp.target === 'CREATE') return cmp.create_revision === '7' ? { succeeded: true, responses: [{ response_put: { header: { revision: '9' } } }] } : { responses: [{ response_range: {} }] };
        return cmp.mod_revision === '9' ? { succeeded: true, responses: [{ response_delete_range: { deleted: '1' } }] } : { responses: [{}] };
      },
    });
    const store = createEtcdVipStore({ kv: createEtcdLeaseKv(transport), name: 'api' });
    expect(await store.beat('7', { host: 'a', since: 5, nonce: 'n1', beat: 1 }, 100)).toBe(true);
    expect(await store.beat('6', { host: 'a', since: 5, nonce: 'n1', beat: 2 }, 100)).toBe(false);
    expect(await store.deleteHolder({ mod: '9' }, 100)).toBe(true);
    expect(await store.deleteHolder({ mod: '8' }, 100)).toBe(false);
    const key = b64('/ballast/vip/api/holder');
    expect(calls[0]!.body).toEqual({
      compare: [{ key, target: 'CREATE', result: 'EQUAL', create_revision: '7' }],
      success: [{ request_put: { key, value: b64('{"host":"a","since":5,"nonce":"n1","beat":1}') } }],
      failure: [{ request_range: { key } }],
    });
    expect(calls[2]!.body).toEqual({ compare: [{ key, target: 'MOD', result: 'EQUAL', mod_revision: '9' }], success: [{ request_delete_range: { key } }] });
    // A condition on revision 0 would match an absent key: refused before any call.
    await expect(store.deleteHolder({ create: '0' }, 100)).rejects.toMatchObject({ code: 'BALLAST_ERR_INTERNAL' });
    expect(calls).toHaveLength(4);
  });

  it('reads holder and handover in one txn; a foreign holder value still counts as a holder', async () => {
    const { transport, calls } = scripted({
      '/v3/kv/txn': () => ({
        succeeded: true,
        responses: [
          { response_range: { kvs: [{ key: b64('/ballast/vip/api/holder'), value: b64('garbage'), create_revision: '9', mod_revision: '11' }] } },
          { response_range: { kvs: [{ key: b64('/ballast/vip/api/handover'), value: b64('{"to":"c","until":99}'), create_revision: '10' }] } },
        ],
      }),
    });
    const store = createEtcdVipStore({ kv: createEtcdLeaseKv(transport), name: 'api' });
    expect(await store.read(100)).toEqual({ holder: { host: '?', since: 0, nonce: '', term: '9', revision: '11' }, handover: { to: 'c', until: 99 } });
    expect((calls[0]!.body.success as unknown[]).length).toBe(2);
  });

  it('refuses answers of an unexpected shape', async () => {
    const { transport } = scripted({ '/v3/lease/keepalive': () => ({ TTL: '2' }) });
    await expect(createEtcdLeaseKv(transport).keepAlive('1', { timeoutMs: 100 })).rejects.toMatchObject({ code: 'BALLAST_ERR_ETCD_REFUSED' });
  });
});

describe('etcd transport', () => {
  let server: Server;
  let endpoint = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/v3/lease/revoke') {
        res.writeHead(404).end(JSON.stringify({ error: 'etcdserver: requested lease not found', message: 'etcdserver: requested lease not found', code: 5 }));
      } else if (req.url === '/v3/lease/keepalive') {
        // Never answers: a partitioned member.
      } else if (req.url === '/v3/kv/txn') {
        res.writeHead(503).end(JSON.stringify({ error: 'etcdserver: no leader', code: 14 }));
      } else {
        res.writeHead(400).end(JSON.stringify({ error: 'bad', message: 'bad request', code: 3 }));
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('bounds every call by its deadline, codes refusals, and treats revoking a missing lease as done', async () => {
    const transport = createHttpsEtcdTransport({ endpoint });
    const kv = createEtcdLeaseKv(transport);
    const t0 = performance.now();
    await expect(kv.keepAlive('1', { timeoutMs: 150 })).rejects.toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE' });
    expect(performance.now() - t0).toBeLessThan(1_000);
    await expect(kv.revoke('1', { timeoutMs: 500 })).resolves.toBeUndefined();
    await expect(kv.getMany(['/x'], { timeoutMs: 500 })).rejects.toMatchObject({ code: 'BALLAST_ERR_ETCD_UNAVAILABLE' });
    await expect(kv.grant(2, { timeoutMs: 500 })).rejects.toMatchObject({ code: 'BALLAST_ERR_ETCD_REFUSED' });
    const aborted = new AbortController();
    aborted.abort();
    await expect(kv.grant(2, { timeoutMs: 500, signal: aborted.signal })).rejects.toMatchObject({ code: 'BALLAST_ERR_CANCELLED' });
    transport.close();
  });

  it('refuses an https endpoint without TLS material', () => {
    expect(() => createHttpsEtcdTransport({ endpoint: 'https://127.0.0.1:2379' })).toThrow(/TLS/);
  });
});
