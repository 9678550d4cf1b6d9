import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { isBallastError } from '../../../shared/src/errors.js';
import { certificateInfo } from '../../../shared/src/pki.js';
import { createCa } from '../pki/ca.js';
import { issueKubeconfig } from './kubeconfig.js';

const HOUR = 3_600_000;

describe('issueKubeconfig', () => {
  it("never outlives the CA, and refuses when the CA has less than 5 minutes left", async () => {
    const ca = await createCa({ commonName: 'kubernetes', validityDays: 30 });
    const caEnd = certificateInfo(ca.certPem).notAfter.getTime();
    const base = { cluster: 'prod', kubernetesCa: ca, kubernetesVersion: '1.30.4', account: 'alice', server: 'https://10.0.0.10:6443' };
    // The clock says the CA has one hour left: a 24 h request gets that hour.
    const capped = await issueKubeconfig({ ...base, ttlMs: 24 * HOUR, now: caEnd - HOUR });
    const left = Date.parse(capped.notAfter) - Date.now();
    expect(left).toBeGreaterThan(HOUR - 60_000);
    expect(left).toBeLessThanOrEqual(HOUR);
    const err = await issueKubeconfig({ ...base, ttlMs: 24 * HOUR, now: caEnd - 60_000 }).catch((e: unknown) => e);
    expect(isBallastError(err, 'BALLAST_ERR_CLUSTER_PKI_MISSING')).toBe(true);
    expect(String((err as Error).message)).toContain('rotate the CA');
  });

  it('renders one cluster, user and context, with the marker header and the expiry', async () => {
    const ca = await createCa({ commonName: 'kubernetes' });
    const res = await issueKubeconfig({ cluster: 'prod', kubernetesCa: ca, kubernetesVersion: 'v1.29.0', account: 'alice', server: 'https://[fd00::10]:6443', ttlMs: HOUR, now: Date.now() });
    const [first, second] = res.kubeconfig.split('\n');
    expect(first).toBe('# Kubeconfig for cluster prod, issued by ballast-controller to ballast:alice (group kubeadm:cluster-admins).');
    expect(second).toBe(`# A cluster-admin credential until ${res.notAfter}: keep it 0600, never commit it.`);
    const doc = parse(res.kubeconfig) as { users: { name: string; user: Record<string, string> }[]; clusters: { cluster: { server: string } }[] };
    expect(doc.clusters[0]?.cluster.server).toBe('https://[fd00::10]:6443');
    expect(doc.users.map((u) => u.name)).toEqual(['ballast:alice@prod']);
    const cert = new X509Certificate(Buffer.from(doc.users[0]?.user['client-certificate-data'] ?? '', 'base64'));
    expect(cert.subject.split('\n').sort()).toEqual(['CN=ballast:alice', 'O=kubeadm:cluster-admins']);
  });
});
