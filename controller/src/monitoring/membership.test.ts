import { describe, expect, it } from 'vitest';
import { splitPkiName } from './collectors.js';
import { Membership } from './membership.js';
import type { MemberRow } from './read-model.js';

describe('Membership', () => {
  it('reads the store at most once per TTL; a host in two specs belongs to the first; unknown hosts have no cluster', () => {
    let t = 0;
    let reads = 0;
    let rows: MemberRow[] = [
      { cluster: 'a', host: 'h1', etcd: true },
      { cluster: 'b', host: 'h1', etcd: false },
    ];
    const source = {
      members: () => {
        reads += 1;
        return rows;
      },
    };
    const m = new Membership({ source, now: () => t, ttlMs: 1000 });
    expect(m.clusterOf('h1')).toBe('a');
    expect(m.clusterOf('nope')).toBe('');
    expect(m.rows()).toHaveLength(2);
    expect(reads).toBe(1);
    rows = [{ cluster: 'c', host: 'h1', etcd: true }];
    t = 999;
    expect(m.clusterOf('h1')).toBe('a');
    t = 1000;
    expect(m.clusterOf('h1')).toBe('c');
    expect(reads).toBe(2);
  });
});

describe('splitPkiName', () => {
  it('splits a member or host item at the first colon; CAs and cluster-wide items have no host', () => {
    expect(splitPkiName('etcd-server:etcd-1')).toEqual({ cert: 'etcd-server', host: 'etcd-1' });
    expect(splitPkiName('etcd-client:cp1')).toEqual({ cert: 'etcd-client', host: 'cp1' });
    expect(splitPkiName('etcd-ca')).toEqual({ cert: 'etcd-ca', host: '' });
    expect(splitPkiName('apiserver-etcd-client')).toEqual({ cert: 'apiserver-etcd-client', host: '' });
  });
});
