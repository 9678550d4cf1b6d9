/**
 * Test helpers for roles: an in-memory mirror, a host, and throwaway PEM-shaped strings. Used by
 * unit tests only (nothing in production imports this file).
 */
import { readFileSync } from 'node:fs';
import type { KubeadmConfigInput } from '../kube/kubeadm-config.js';
import { renderRole } from './index.js';
import type { ArtifactLookup, ArtifactRecord, RenderedRole, RoleHost } from './types.js';

/** A mirror holding exactly `records`; without a version, the lexically last one. */
export function fakeMirror(records: ArtifactRecord[]): ArtifactLookup {
  return {
    find: ({ name, version, arch }) =>
      records.filter((r) => r.name === name && r.arch === arch && (version === undefined || r.version === version)).sort((a, b) => b.version.localeCompare(a.version))[0] ??
      null,
    images: (arch) => records.filter((r) => r.image !== undefined && r.arch === arch),
  };
}

/** An artifact record with a recognisable digest. */
export function art(name: string, version: string, arch = 'amd64'): ArtifactRecord {
  return { name, version, arch, sha256: `${name.length.toString(16).padStart(2, '0')}${'ab'.repeat(31)}` };
}

/** The mirror the built-in catalogue gives (amd64), plus an older containerd. */
export const FULL_MIRROR = fakeMirror([
  art('containerd', '1.6.20'),
  art('containerd', '1.7.22'),
  art('runc', '1.1.13'),
  art('cni-plugins', '1.4.0'),
  art('crictl', '1.36.0'),
  art('etcd', '3.5.33'),
  art('kubelet', '1.36.3'),
  art('kubeadm', '1.36.3'),
  art('kubectl', '1.36.3'),
]);

/** A host as the orchestrator would describe it. */
export const HOST: RoleHost = { name: 'node-1', arch: 'amd64', address: '198.18.0.2' };

/** A PEM-shaped block (not a real certificate: roles only move the text). */
export function pem(label: string, body = 'MIIBfake'): string {
  return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
}

/** Renders and fails the test with the problems when rendering failed. */
export function mustRender(role: string, vars: Record<string, unknown> = {}, artifacts = FULL_MIRROR, host = HOST): RenderedRole {
  const result = renderRole(role, { host, vars, artifacts });
  if (!result.ok) throw new Error(`render of ${role} failed: ${result.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  return result.role;
}

/** An etcd member's TLS material as the etcd roles take it (fake PEM bodies). */
export const TEST_TLS = {
  caCert: pem('CERTIFICATE', 'CA'),
  serverCert: pem('CERTIFICATE', 'SERVER'),
  serverKey: pem('EC PRIVATE KEY', 'SERVERKEY'),
  peerCert: pem('CERTIFICATE', 'PEER'),
  peerKey: pem('EC PRIVATE KEY', 'PEERKEY'),
};

/** The CA certificate of the kubeadm golden files. */
export const GOLDEN_CA_PEM = readFileSync(new URL('../../../test/golden/kubeadm/ca.crt', import.meta.url), 'utf8');

/** A kubeadm config input for node-1 of a one-member lab cluster, with the golden CA. */
export function kubeadmTestInput(kubernetesVersion: string): KubeadmConfigInput {
  return {
    kubernetesVersion,
    clusterName: 'lab',
    vip: '198.18.0.100',
    networking: { podSubnet: '10.244.0.0/16', serviceSubnet: '10.96.0.0/12', dnsDomain: 'cluster.local' },
    etcdMembers: ['198.18.0.2'],
    certSANs: ['198.18.0.2', 'node-1'],
    node: { name: 'node-1', address: '198.18.0.2' },
    bootstrapToken: { token: 'abcdef.0123456789abcdef' },
    caCertPem: GOLDEN_CA_PEM,
  };
}
