import { afterEach, describe, expect, it } from 'vitest';
import type { NewClusterPkiItem } from './cluster-pki.js';
import { schemaVersion } from './db.js';
import type { Store } from './store.js';
import { tempStores } from './testing.js';

const temp = tempStores('ballast-cluster-pki-repo-');
afterEach(() => temp.cleanup());
const tempPath = (): string => temp.path();
const open = (path: string, now = () => 1_000): Store => temp.open(path, now);

const ca: NewClusterPkiItem = {
  name: 'etcd-ca',
  kind: 'ca',
  subject: 'CN=etcd-ca',
  sans: [],
  certPem: 'CERT-CA',
  keyPem: 'KEY-CA',
  notAfter: 9_000,
};
const peer: NewClusterPkiItem = {
  name: 'etcd-peer:etcd-1',
  kind: 'cert',
  subject: 'CN=etcd-1',
  sans: ['etcd-1', '10.0.0.11'],
  certPem: 'CERT-PEER',
  keyPem: 'KEY-PEER',
  notAfter: 5_000,
};
const sa: NewClusterPkiItem = { name: 'sa', kind: 'keypair', subject: 'sa', sans: [], certPem: null, keyPem: 'KEY-SA', notAfter: null };

describe('ClusterPkiRepo (real SQLite file)', () => {
  it('is created by migration 4', () => {
    const store = open(tempPath());
    expect(schemaVersion(store.db)).toBeGreaterThanOrEqual(4);
    const columns = store.db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('cluster_pki')").all();
    expect(columns.map((c) => c.name)).toEqual(['cluster', 'name', 'kind', 'subject', 'sans_json', 'cert_pem', 'key_pem', 'not_after', 'created_at']);
  });

  it('puts, gets and lists items per cluster, sorted, and they survive a reopen', () => {
    const path = tempPath();
    const store = open(path);
    store.clusterPki.putAll('prod', [peer, ca, sa]);
    store.clusterPki.putAll('dev', [ca]);
    expect(store.clusterPki.get('prod', 'etcd-peer:etcd-1')).toEqual({ ...peer, cluster: 'prod', createdAt: 1_000 });
    expect(store.clusterPki.get('prod', 'nope')).toBeNull();
    expect(store.clusterPki.list('prod').map((r) => r.name)).toEqual(['etcd-ca', 'etcd-peer:etcd-1', 'sa']);
    expect(store.clusterPki.list().map((r) => `${r.cluster}/${r.name}`)).toEqual(['dev/etcd-ca', 'prod/etcd-ca', 'prod/etcd-peer:etcd-1', 'prod/sa']);
    expect(store.clusterPki.list('other')).toEqual([]);
    store.close();
    const reopened = open(path, () => 2_000);
    expect(reopened.clusterPki.get('prod', 'sa')).toEqual({ ...sa, cluster: 'prod', createdAt: 1_000 });
  });

  it('replaces an item on re-put, with the new creation time', () => {
    let t = 1_000;
    const store = open(tempPath(), () => t);
    store.clusterPki.putAll('prod', [peer]);
    t = 2_000;
    store.clusterPki.putAll('prod', [{ ...peer, sans: ['etcd-1', '10.0.1.11'], certPem: 'CERT-NEW', notAfter: 7_000 }]);
    expect(store.clusterPki.get('prod', peer.name)).toMatchObject({ sans: ['etcd-1', '10.0.1.11'], certPem: 'CERT-NEW', notAfter: 7_000, createdAt: 2_000 });
    expect(store.clusterPki.list('prod')).toHaveLength(1);
  });

  it('writes all items of a put or none', () => {
    const store = open(tempPath());
    const bad = { ...sa, name: 'bad', kind: 'bogus' } as unknown as NewClusterPkiItem;
    expect(() => store.clusterPki.putAll('prod', [ca, bad])).toThrow(/CHECK constraint/);
    expect(store.clusterPki.list('prod')).toEqual([]);
  });

  it('deletes one item', () => {
    const store = open(tempPath());
    store.clusterPki.putAll('prod', [ca, peer]);
    expect(store.clusterPki.delete('prod', peer.name)).toBe(true);
    expect(store.clusterPki.delete('prod', peer.name)).toBe(false);
    expect(store.clusterPki.list('prod').map((r) => r.name)).toEqual(['etcd-ca']);
  });

  it('reports a damaged row with a coded error naming it', () => {
    const store = open(tempPath());
    store.clusterPki.putAll('prod', [ca]);
    store.db.prepare("UPDATE cluster_pki SET sans_json = '{' WHERE name = 'etcd-ca'").run();
    expect(() => store.clusterPki.get('prod', 'etcd-ca')).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_STORE', message: expect.stringContaining('prod/etcd-ca') }));
  });
});
