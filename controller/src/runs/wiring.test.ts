import { describe, expect, it } from 'vitest';
import { StoreHostDirectory } from '../fleet/directory.js';
import { HostEventBus } from '../fleet/events.js';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { goArch } from '../fleet/arch.js';
import { hostTargets, mirrorLookup } from './wiring.js';

const a = (name: string, version: string, arch = 'amd64') => ({ name, version, arch, sha256: 'f'.repeat(64), size: 1 });

describe('run wiring', () => {
  it('orders versions numerically, pre-releases before their release', () => {
    const sorted = ['1.7.9', 'v1.7.22', '1.10.0', '1.7.22-rc.1', '1.7.3'].sort(compareVersions);
    expect(sorted).toEqual(['1.7.3', '1.7.9', '1.7.22-rc.1', 'v1.7.22', '1.10.0']);
    expect(compareVersions('3.5.12', 'v3.5.12')).toBe(0);
  });

  it('looks up the newest version for the arch, or an exact one (with or without "v")', () => {
    const lookup = mirrorLookup({ list: () => [a('etcd', '3.5.9'), a('etcd', '3.5.12'), a('etcd', '3.6.0', 'arm64'), a('runc', '1.1.13')] });
    expect(lookup.find({ name: 'etcd', arch: 'amd64' })).toEqual({ name: 'etcd', version: '3.5.12', arch: 'amd64', sha256: 'f'.repeat(64) });
    expect(lookup.find({ name: 'etcd', arch: 'amd64', version: 'v3.5.9' })?.version).toBe('3.5.9');
    expect(lookup.find({ name: 'etcd', arch: 'amd64', version: '3.6.0' })).toBeNull();
    expect(lookup.find({ name: 'kubelet', arch: 'amd64' })).toBeNull();
  });

  it('maps Node arch names to Go names', () => {
    expect(['x64', 'arm64', 'ia32', 'ppc64', 'mips'].map(goArch)).toEqual(['amd64', 'arm64', '386', 'ppc64le', 'mips']);
  });

  it('builds targets from the inventory and the live sessions', () => {
    const session = { sessionId: 's', close: () => {}, request: async () => ({}) };
    const store = {
      hosts: {
        getByName: (name: string) =>
          name === 'node-1' ? ({ id: 'h1', name, address: '198.18.0.2', facts: { os: { arch: 'x64' } } } as never) : null,
      },
    };
    const tracker = { get: (id: string) => (id === 'h1' ? ({ session } as never) : undefined) };
    const targets = hostTargets(new StoreHostDirectory({ inventory: store.hosts as never, live: tracker, events: new HostEventBus() }));
    expect(targets.find('node-1')).toEqual({ id: 'h1', name: 'node-1', arch: 'amd64', address: '198.18.0.2', session });
    expect(targets.find('node-2')).toBeNull();
  });
});
