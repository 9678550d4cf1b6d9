/**
 * Issue 16 point 4, replayed: an unauthenticated peer on POST /v1/join. Before, the CSR was parsed
 * and signed and the host name looked up before the token was checked (~8 ms of CPU per request,
 * names enumerable without a token), with no rate limit. Now: rate limit, then token, then the rest.
 */
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateKeyAndCsr } from '../../shared/src/pki.js';
import { hashJoinSecret } from '../../controller/src/auth/join-token.js';
import { SourceRateLimiter } from '../../controller/src/auth/rate-limit.js';
import { testApp } from '../../controller/src/api/testing.js';
import type { Store } from '../../controller/src/store/store.js';
import { type TempStore, tempStore } from '../../controller/src/store/testing.js';

describe('join: token before any costly work, per-source rate limit', () => {
  let temp: TempStore;
  let store: Store;
  let app: FastifyInstance;
  let clock = 1_000_000;

  beforeEach(async () => {
    temp = await tempStore('ballast-sec-join-');
    store = temp.store;
    clock = 1_000_000;
    app = await testApp({ store, now: () => clock, joinLimiter: new SourceRateLimiter({ perSecond: 1, burst: 3, now: () => clock }) });
  });

  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  const join = (body: unknown, ip = '198.18.9.1') => app.inject({ method: 'POST', url: '/v1/join', payload: body as object, remoteAddress: ip });

  it('refuses a wrong token before it looks at the name or the CSR', async () => {
    store.tokens.create({ id: 'abcdef', secretHash: hashJoinSecret('0123456789abcdef'), createdBy: 'admin', ttlMs: 60_000 });
    store.hosts.create({ id: 'h1', name: 'taken', certSerial: '01', certNotAfter: clock + 1e9, enrolledAt: clock });
    // The name exists and the CSR is garbage: before, these answered HOST_EXISTS / CSR_INVALID
    // without a valid token. Now the token decides first, and the answer is the same for both.
    const byName = await join({ token: 'abcdef.ffffffffffffffff', name: 'taken', csr: 'x' });
    const byCsr = await join({ token: 'abcdef.ffffffffffffffff', name: 'free', csr: 'not a csr' });
    expect(byName.statusCode).toBe(401);
    expect(byName.json().code).toBe('BALLAST_ERR_TOKEN_INVALID');
    expect(byCsr.json()).toEqual(byName.json());
    // With the right token, the name check speaks (the token is not used up by it).
    const right = await join({ token: 'abcdef.0123456789abcdef', name: 'taken', csr: (await generateKeyAndCsr('taken')).csrPem });
    expect(right.json().code).toBe('BALLAST_ERR_HOST_EXISTS');
    expect(store.tokens.get('abcdef')?.usesCount).toBe(0);
  });

  it('limits attempts per source address, not globally, and recovers with time', async () => {
    const body = { token: 'zzzzzz.0123456789abcdef', name: 'n1', csr: 'x' };
    for (let i = 0; i < 3; i++) expect((await join(body)).statusCode).toBe(401);
    const limited = await join(body);
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject({ code: 'BALLAST_ERR_RATE_LIMITED' });
    expect(limited.json().message).toContain('198.18.9.1');
    // Another source is unaffected; the first recovers after a second.
    expect((await join(body, '198.18.9.2')).statusCode).toBe(401);
    clock += 1000;
    expect((await join(body)).statusCode).toBe(401);
  });

  it('rate-limited attempts write no event (no log amplification)', async () => {
    const body = { token: 'zzzzzz.0123456789abcdef', name: 'n1', csr: 'x' };
    for (let i = 0; i < 50; i++) await join(body);
    const refused = store.events.list({ limit: 500 }).filter((e) => e.kind === 'refused');
    expect(refused).toHaveLength(3);
  });
});

describe('SourceRateLimiter', () => {
  it('keeps at most maxSources buckets (least recently used dropped first)', () => {
    let t = 0;
    const l = new SourceRateLimiter({ perSecond: 1, burst: 1, maxSources: 100, now: () => t });
    for (let i = 0; i < 1000; i++) l.take(`10.0.${i >> 8}.${i & 255}`, 'join');
    expect(l.size).toBe(100);
    t += 1;
    expect(() => l.take('10.0.3.231', 'join')).toThrow(/too many attempts/);
  });
});

describe('audit retention', () => {
  it('keeps the newest entries by count and drops those past the age limit', async () => {
    const temp = await tempStore('ballast-sec-audit-');
    try {
      const { store } = temp;
      for (let i = 0; i < 30; i++) store.audit.append({ actor: 'join-token:x', role: 'none', action: 'host.join', target: `n${i}`, outcome: 'denied' });
      expect(store.audit.prune({ keep: 10, maxAgeMs: 3600_000 })).toBe(20);
      expect(store.audit.list(100).map((a) => a.target)[0]).toBe('n29');
      expect(store.audit.prune({ keep: 10, maxAgeMs: -1 })).toBe(10);
    } finally {
      await temp.cleanup();
    }
  });
});
