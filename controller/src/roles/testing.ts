/**
 * Test helpers for roles: an in-memory mirror, a host, and throwaway PEM-shaped strings. Used by
 * unit tests only (nothing in production imports this file).
 */
import { renderRole } from './index.js';
import type { ArtifactLookup, ArtifactRecord, RenderedRole, RoleHost } from './types.js';

/** A mirror holding exactly `records`; without a version, the lexically last one. */
export function fakeMirror(records: ArtifactRecord[]): ArtifactLookup {
  return {
    find: ({ name, version, arch }) =>
      records.filter((r) => r.name === name && r.arch === arch && (version === undefined || r.version === version)).sort((a, b) => b.version.localeCompare(a.version))[0] ??
      null,
  };
}

/** An artifact record with a recognisable digest. */
export function art(name: string, version: string, arch = 'amd64'): ArtifactRecord {
  return { name, version, arch, sha256: `${name.length.toString(16).padStart(2, '0')}${'ab'.repeat(31)}` };
}

/** The mirror the kubespray catalogue would give (amd64), plus an older containerd. */
export const FULL_MIRROR = fakeMirror([
  art('containerd', '1.6.20'),
  art('containerd', '1.7.22'),
  art('runc', '1.1.13'),
  art('cni-plugins', '1.4.0'),
  art('crictl', '1.30.0'),
  art('etcd', '3.5.12'),
  art('kubelet', '1.30.4'),
  art('kubeadm', '1.30.4'),
  art('kubectl', '1.30.4'),
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
