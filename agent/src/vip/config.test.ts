import { describe, expect, it } from 'vitest';
import { isBallastError } from '../../../shared/src/errors.js';
import { electionIdentity, parseVipConfig, resolveVipConfig } from './config.js';

const minimal = {
  name: 'api',
  address: '198.18.1.100',
  interface: 'eth0',
  etcd: { caFile: '/etc/kubernetes/pki/etcd/ca.crt', certFile: '/etc/ballast/etcd-vip.crt', keyFile: '/etc/ballast/etcd-vip.key' },
};

function refusal(value: unknown): { path: string | undefined; message: string } {
  try {
    resolveVipConfig(value);
  } catch (err) {
    if (isBallastError(err, 'BALLAST_ERR_CONFIG')) return { path: err.path, message: err.message };
    throw err;
  }
  throw new Error('accepted');
}

describe('VIP config', () => {
  it('fills the defaults: local member only, hold 2 s, lifetime 1 s, 500 ms RTT, /readyz', () => {
    const c = resolveVipConfig(minimal);
    expect(c).toMatchObject({
      prefixLength: 32,
      etcd: { endpoints: ['https://127.0.0.1:2379'] },
      holdTimeoutMs: 2000,
      addressLifetimeSeconds: 1,
      maxRenewRttMs: 500,
      pollIntervalMs: 50,
      candidate: true,
      renewIntervalMs: 250,
      renewBudgetMs: 750,
      health: { kind: 'https', url: 'https://127.0.0.1:6443/readyz', intervalMs: 200, rise: 2, fall: 2 },
    });
  });

  it('parses YAML and applies a tcp health check with its own thresholds', () => {
    const c = parseVipConfig(
      'name: api\naddress: 198.18.1.100\nprefixLength: 32\ninterface: eth0\netcd:\n  caFile: /a\n  certFile: /b\n  keyFile: /c\nhealth:\n  kind: tcp\n  host: 127.0.0.1\n  port: 6443\n  fall: 3\ncandidate: false\n',
    );
    expect(c.health).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 6443, intervalMs: 200, timeoutMs: 500, rise: 2, fall: 3 });
    expect(c.candidate).toBe(false);
  });

  it('refuses timings under which the address could outlive the hold, explaining the inequality', () => {
    const r = refusal({ ...minimal, holdTimeoutMs: 2000, addressLifetimeSeconds: 2 });
    expect(r.path).toBe('/holdTimeoutMs');
    expect(r.message).toMatch(/outlive its hold/);
    const explicit = refusal({ ...minimal, holdTimeoutMs: 3000, addressLifetimeSeconds: 3, maxRenewRttMs: 100 });
    expect(explicit.path).toBe('/maxRenewRttMs');
    expect(explicit.message).toMatch(/maxRenewRttMs \(100\) \+ 100 ms .* = -250 ms/);
    // Beyond the heartbeat deadline is refused by the schema.
    expect(refusal({ ...minimal, maxRenewRttMs: 700 }).path).toBe('/maxRenewRttMs');
    // A longer hold allows more; the default RTT stays capped by the heartbeat deadline.
    expect(resolveVipConfig({ ...minimal, holdTimeoutMs: 4000, addressLifetimeSeconds: 2 }).maxRenewRttMs).toBe(500);
    expect(resolveVipConfig({ ...minimal, holdTimeoutMs: 8000 }).renewIntervalMs).toBe(250); // lifetime/4, not hold/8
    // Milliseconds, not whole seconds: 1.75 s leaves 500 ms of budget, so at most 400 ms RTT.
    expect(resolveVipConfig({ ...minimal, holdTimeoutMs: 1750 })).toMatchObject({ renewBudgetMs: 500, maxRenewRttMs: 250 });
  });

  it('reports schema problems with their paths', () => {
    expect(refusal({ ...minimal, address: '300.1.1.1' }).path).toBe('/address');
    expect(refusal({ ...minimal, interface: 'eth0; rm -rf /' }).path).toBe('/interface');
    expect(refusal({ ...minimal, etcd: { ...minimal.etcd, endpoints: ['https://a:2379', 'https://b:2379'] } }).path).toBe('/etcd/endpoints');
    expect(refusal({ ...minimal, etcd: { ...minimal.etcd, endpoints: ['http://127.0.0.1:2379'] } }).path).toMatch(/^\/etcd\/endpoints/);
    expect(refusal({ ...minimal, holdTimeoutMs: 999 }).path).toBe('/holdTimeoutMs');
    expect(refusal({ ...minimal, extra: 1 }).message).toMatch(/extra|additional/i);
    expect(refusal({ ...minimal, health: { kind: 'https', url: 'http://x/readyz' } }).path).toBe('/health/url');
  });

  it('accepts health kind none (the bootstrap, before any API server exists) and nothing else with it', () => {
    const c = parseVipConfig('name: api\naddress: 198.18.1.100\ninterface: eth0\netcd:\n  caFile: /a\n  certFile: /b\n  keyFile: /c\nhealth:\n  kind: none\n');
    expect(c.health).toEqual({ kind: 'none', intervalMs: 1000, timeoutMs: 100, rise: 1, fall: 1 });
    expect(refusal({ ...minimal, health: { kind: 'none', url: 'https://x/readyz' } }).message).toMatch(/health/);
    expect(electionIdentity(resolveVipConfig({ ...minimal, health: { kind: 'none' } }))).toBe(electionIdentity(resolveVipConfig(minimal)));
  });

  it('refuses oversized and non-YAML files', () => {
    expect(() => parseVipConfig(`# ${'x'.repeat(70_000)}\n`)).toThrow(/larger than/);
    expect(() => parseVipConfig('name: [')).toThrow(/not valid YAML/);
  });

  it('health and candidate changes keep the election identity; address changes do not', () => {
    const a = resolveVipConfig(minimal);
    expect(electionIdentity(resolveVipConfig({ ...minimal, candidate: false, health: { kind: 'tcp', host: 'h', port: 1 } }))).toBe(electionIdentity(a));
    expect(electionIdentity(resolveVipConfig({ ...minimal, address: '198.18.1.101' }))).not.toBe(electionIdentity(a));
  });
});
