import { describe, expect, it } from 'vitest';
import type { ClusterStatus } from '../../../shared/src/clusters-api.js';
import { listText, statusText } from './cluster-ops.js';

const STATUS: ClusterStatus = {
  name: 'lab',
  vipAddress: '198.18.0.250',
  lifecycle: 'reset',
  lastOperation: { id: 'op-2', kind: 'cluster.reset', state: 'succeeded' },
  operation: { id: 'op-1', state: 'succeeded', done: 9, total: 9, current: null },
  etcd: { members: [{ id: '10276657743932975437', name: 'h1', peerUrls: ['https://198.18.0.11:2380'], learner: false, leader: true, healthy: true, problem: null }], error: null },
  vip: { holder: null, term: null, error: null },
  nodes: { items: [], error: null },
};

describe('cluster list and status text', () => {
  it('shows the lifecycle apart from the last operation: a reset cluster is not "succeeded"', () => {
    const text = statusText(STATUS);
    expect(text.split('\n')[0]).toBe('Cluster lab: reset (last operation: cluster.reset op-2 succeeded)');
    expect(text).toContain('Create operation op-1 succeeded (9/9 steps)');
    const list = listText({
      items: [{ name: 'lab', operation: 'op-1', state: 'succeeded', lifecycle: 'reset', lastOperation: STATUS.lastOperation, hosts: 2, vip: '198.18.0.250', updatedAt: '2026-01-01T00:00:00.000Z' }],
    });
    expect(list.split('\n')[0]?.split(/\s+/)).toEqual(['NAME', 'LIFECYCLE', 'LAST-OPERATION', 'HOSTS', 'VIP', 'OPERATION']);
    expect(list.split('\n')[1]?.split(/\s+/)).toEqual(['lab', 'reset', 'reset', 'succeeded', '2', '198.18.0.250', 'op-2']);
  });

  it('shows etcd member ids in hex, as etcdctl does', () => {
    expect(statusText(STATUS)).toContain('8e9e05c52164694d');
    expect(statusText(STATUS)).not.toContain('10276657743932975437');
  });
});
