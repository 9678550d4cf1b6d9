import { describe, expect, it } from 'vitest';
import { type HostInventory, type LiveHosts, StoreHostDirectory } from '../fleet/directory.js';
import { HostEventBus } from '../fleet/events.js';
import type { LiveHost } from '../hub/host-tracker.js';
import type { HostRecord } from '../store/hosts.js';
import { clusterHosts } from './fleet-hosts.js';
import { sampleFacts, sampleHealth } from './testing.js';

const record = (over: Partial<HostRecord>): HostRecord => ({
  id: 'h1',
  name: 'cp-1',
  state: 'healthy',
  stateSince: 0,
  enrolledAt: 0,
  certSerial: '01',
  certNotAfter: 0,
  lastHeartbeatAt: null,
  lastSeq: null,
  address: '10.0.0.11',
  agentVersion: null,
  sessionId: null,
  facts: sampleFacts('cp-1', '10.0.0.11', 1),
  health: sampleHealth(3),
  labels: {},
  removedAt: null,
  ...over,
});

const directory = (inventory: Pick<HostInventory, 'getByName'>, live: LiveHosts) =>
  new StoreHostDirectory({ inventory: inventory as HostInventory, live, events: new HostEventBus() });

describe('clusterHosts', () => {
  it('joins the stored host with its live state; the tracker wins', () => {
    const live: Partial<LiveHost> = { state: 'degraded', failingChecks: ['containerd'], session: { sessionId: 's', close: () => undefined, request: () => Promise.reject(new Error('not used')) } };
    const hosts = clusterHosts(directory({ getByName: (n: string) => (n === 'cp-1' ? record({}) : null) }, { get: () => live as LiveHost }));
    expect(hosts.find('cp-1')).toEqual({
      name: 'cp-1',
      state: 'degraded',
      connected: true,
      arch: 'amd64',
      facts: record({}).facts,
      health: sampleHealth(3),
      failingChecks: ['containerd'],
    });
    expect(hosts.find('nope')).toBeNull();
  });

  it('without a live entry: stored state, not connected; no facts: arch unknown', () => {
    const hosts = clusterHosts(directory({ getByName: () => record({ state: 'unreachable', facts: null }) }, { get: () => undefined }));
    expect(hosts.find('cp-1')).toMatchObject({ state: 'unreachable', connected: false, arch: null, facts: null, failingChecks: [] });
  });
});
