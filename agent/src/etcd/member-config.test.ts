import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMemberConfig } from './member-config.js';

const roots: string[] = [];
afterEach(async () => {
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function hostTree(env: string, clientPair = true): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'ballast-member-'));
  roots.push(root);
  await mkdir(join(root, 'etc/etcd/pki'), { recursive: true });
  await writeFile(join(root, 'etc/etcd/etcd.env'), env);
  if (clientPair) for (const f of ['healthcheck-client.crt', 'healthcheck-client.key']) await writeFile(join(root, 'etc/etcd/pki', f), 'x');
  return root;
}

const GOOD = 'ETCD_NAME=cp1\nETCD_LISTEN_CLIENT_URLS=https://10.0.0.1:2379,https://127.0.0.1:2379\nETCD_TRUSTED_CA_FILE=/etc/etcd/pki/ca.crt\nETCD_CERT_FILE=/etc/etcd/pki/server.crt\nETCD_KEY_FILE=/etc/etcd/pki/server.key\n';

describe("the agent's view of its etcd member", () => {
  it('uses the loopback client URL and the health-check client pair, as the etcd role wrote them', async () => {
    const root = await hostTree(GOOD);
    const cfg = await loadMemberConfig(root);
    expect(cfg).toMatchObject({ name: 'cp1', endpoint: 'https://127.0.0.1:2379', caFile: join(root, '/etc/etcd/pki/ca.crt'), certFile: join(root, 'etc/etcd/pki/healthcheck-client.crt'), etcdctl: null });
  });

  it('falls back to the server pair without a client pair', async () => {
    const cfg = await loadMemberConfig(await hostTree(GOOD, false));
    expect(cfg.certFile.endsWith('/etc/etcd/pki/server.crt')).toBe(true);
  });

  it('refuses certificate paths outside /etc/etcd, a missing loopback URL and a host without etcd', async () => {
    await expect(loadMemberConfig(await hostTree(GOOD.replace('/etc/etcd/pki/ca.crt', '/etc/etcd/../shadow')))).rejects.toMatchObject({ code: 'BALLAST_ERR_CONFIG' });
    await expect(loadMemberConfig(await hostTree(GOOD.replace(',https://127.0.0.1:2379', '')))).rejects.toThrow(/127\.0\.0\.1/);
    const empty = await mkdtemp(join(tmpdir(), 'ballast-member-'));
    roots.push(empty);
    await expect(loadMemberConfig(empty)).rejects.toThrow(/is this an etcd host/);
  });
});
