import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { NewHost } from './hosts.js';
import { openStore, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const store of stores.splice(0)) store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function newStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'ballast-hosts-'));
  dirs.push(dir);
  const store = openStore({ path: join(dir, 'ballast.db') });
  stores.push(store);
  return store;
}
function host(name: string, id = `id-${name}`, certSerial = `serial-${id}`): NewHost {
  return { id, name, certSerial, certNotAfter: 9_000, enrolledAt: 1_000 };
}

const facts: Facts = {
  hostname: 'node-a',
  os: { platform: 'linux', distro: 'Debian', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
  cpu: { manufacturer: 'AMD', brand: 'EPYC', cores: 16, physicalCores: 8, speedGHz: 3.1 },
  memory: { totalBytes: 64 * 2 ** 30 },
  disks: [{ device: '/dev/nvme0n1', type: 'NVMe', sizeBytes: 1e12, model: 'X' }],
  nics: [{ name: 'eth0', mac: '00:11:22:33:44:55', ipv4: ['10.0.0.5'], ipv6: [], speedMbps: 10_000, virtual: false }],
  productUuid: 'uuid',
  bootId: 'boot',
};
const health: Health = {
  ts: 5,
  load: [0.1, 0.2, 0.3],
  memory: { totalBytes: 100, availableBytes: 50 },
  disks: [{ mount: '/', sizeBytes: 100, usedBytes: 10 }],
  clockOffsetMs: null,
  checks: [{ name: 'kubelet', ok: false, message: 'not running' }],
};

describe('HostRepo', () => {
  it('creates a pending host with its enrolment data', () => {
    const { hosts } = newStore();
    const created = hosts.create(host('node-a'));
    expect(created).toEqual({
      id: 'id-node-a',
      name: 'node-a',
      state: 'pending',
      stateSince: 1_000,
      enrolledAt: 1_000,
      certSerial: 'serial-id-node-a',
      certNotAfter: 9_000,
      lastHeartbeatAt: null,
      lastSeq: null,
      address: null,
      agentVersion: null,
      sessionId: null,
      facts: null,
      health: null,
      labels: {},
      removedAt: null,
    });
    expect(hosts.getByName('node-a')).toEqual(created);
    expect(hosts.getById('id-node-a')).toEqual(created);
    expect(hosts.getByName('nope')).toBeNull();
  });

  it('refuses a second active host of the same name and says how to fix it', () => {
    const { hosts } = newStore();
    hosts.create(host('node-a'));
    expect(() => hosts.create(host('node-a', 'other-id'))).toThrow(
      expect.objectContaining({
        code: 'BALLAST_ERR_HOST_EXISTS',
        message: expect.stringContaining('ballastctl host remove node-a'),
      }),
    );
    expect(hosts.list().map((h) => h.id)).toEqual(['id-node-a']);
  });

  it('removes a host: hidden from lookups, certificate revoked, not removable twice', () => {
    const { hosts } = newStore();
    hosts.create(host('node-a'));
    const removed = hosts.remove('id-node-a', 2_000, 'decommissioned');
    expect(removed.removedAt).toBe(2_000);
    expect(hosts.getByName('node-a')).toBeNull();
    expect(hosts.getById('id-node-a')).toBeNull();
    expect(hosts.getById('id-node-a', { includeRemoved: true })?.removedAt).toBe(2_000);
    expect(hosts.list()).toEqual([]);
    expect(hosts.isCertRevoked('serial-id-node-a')).toBe(true);
    expect(hosts.isCertRevoked('some-other-serial')).toBe(false);
    expect(() => hosts.remove('id-node-a', 3_000, 'again')).toThrow(
      expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' }),
    );
  });

  it('replaces a removed host of the same name; the old certificate stays revoked', () => {
    const { hosts, healthSamples } = newStore();
    hosts.create(host('node-a', 'old'));
    healthSamples.append('old', health, 1_500);
    hosts.remove('old', 2_000, 'reinstalled');
    const fresh = hosts.create(host('node-a', 'new'));
    expect(fresh.id).toBe('new');
    expect(fresh.state).toBe('pending');
    expect(hosts.getById('old', { includeRemoved: true })).toBeNull();
    expect(healthSamples.latest('old', 10)).toEqual([]);
    expect(hosts.isCertRevoked('serial-old')).toBe(true);
    expect(hosts.isCertRevoked('serial-new')).toBe(false);
  });

  it('lists active hosts by name', () => {
    const { hosts } = newStore();
    for (const name of ['node-c', 'node-a', 'node-b']) hosts.create(host(name));
    hosts.remove('id-node-b', 2_000, 'gone');
    expect(hosts.list().map((h) => h.name)).toEqual(['node-a', 'node-c']);
  });

  it('moves stateSince only on a real transition', () => {
    const { hosts } = newStore();
    hosts.create(host('node-a'));
    expect(hosts.setState('id-node-a', 'healthy', 2_000)).toBe(true);
    expect(hosts.setState('id-node-a', 'healthy', 3_000)).toBe(false);
    expect(hosts.getById('id-node-a')).toMatchObject({ state: 'healthy', stateSince: 2_000 });
    expect(hosts.setState('id-node-a', 'degraded', 4_000)).toBe(true);
    expect(hosts.getById('id-node-a')).toMatchObject({ state: 'degraded', stateSince: 4_000 });
  });

  it('stores connection, facts and health, and clears the connection with nulls', () => {
    const { hosts } = newStore();
    hosts.create(host('node-a'));
    hosts.setConnection('id-node-a', { address: '10.0.0.5', agentVersion: '0.1.0', sessionId: 's1' });
    hosts.setFacts('id-node-a', facts);
    hosts.setHealth('id-node-a', health);
    expect(hosts.getById('id-node-a')).toMatchObject({
      address: '10.0.0.5',
      agentVersion: '0.1.0',
      sessionId: 's1',
      facts,
      health,
    });
    hosts.setConnection('id-node-a', { address: null, agentVersion: null, sessionId: null });
    expect(hosts.getById('id-node-a')).toMatchObject({ address: null, agentVersion: null, sessionId: null });
  });

  it('refuses updates to unknown or removed hosts with NOT_FOUND', () => {
    const { hosts } = newStore();
    hosts.create(host('node-a'));
    hosts.remove('id-node-a', 2_000, 'gone');
    for (const id of ['id-node-a', 'unknown']) {
      const notFound = expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' });
      expect(() => hosts.setState(id, 'healthy', 3_000)).toThrow(notFound);
      expect(() => hosts.setConnection(id, { address: null, agentVersion: null, sessionId: null })).toThrow(notFound);
      expect(() => hosts.setFacts(id, facts)).toThrow(notFound);
      expect(() => hosts.setHealth(id, health)).toThrow(notFound);
    }
  });
});
