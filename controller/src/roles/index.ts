/**
 * The role registry and `renderRole`: validate vars (defaults applied, every problem with its
 * path), render, and collect every missing artifact — all without side effects.
 */
import type { TObject } from '@sinclair/typebox';
import { containerdRole } from './containerd.js';
import { etcdRole } from './etcd.js';
import { etcdMemberRole } from './etcd-member.js';
import { etcdWipeRole } from './etcd-wipe.js';
import { imagesRole } from './images.js';
import { kubeControlPlaneRole } from './kube-control-plane.js';
import { kubeNodeRole } from './kube-node.js';
import { kubeWorkerRole } from './kube-worker.js';
import { osPrepRole } from './os-prep.js';
import { preflightRole } from './preflight.js';
import { etcdDataRole, etcdRestoreRole, etcdStopRole, kubeletRestartRole, staticPodsRole } from './recovery.js';
import { resetRole } from './reset.js';
import { vipRole } from './vip.js';
import type { ArtifactLookup, ArtifactRecord, RenderProblem, RenderResult, RoleDefinition, RoleHost } from './types.js';
import { checkVars, redactVars } from './vars.js';

export type { ArtifactLookup, ArtifactRecord, RenderProblem, RenderResult, RoleHost, RoleTask, RenderedRole } from './types.js';

/** Every role, by name. */
export const ROLES: ReadonlyMap<string, RoleDefinition> = new Map<string, RoleDefinition>(
  [preflightRole, osPrepRole, containerdRole, etcdRole, etcdMemberRole, etcdWipeRole, kubeNodeRole, imagesRole, kubeControlPlaneRole, kubeWorkerRole, vipRole, resetRole, staticPodsRole, etcdStopRole, etcdRestoreRole, etcdDataRole, kubeletRestartRole].map((r) => [r.name, r as unknown as RoleDefinition]),
);

/** What {@link renderRole} needs besides the role's name. */
export interface RenderOptions {
  host: RoleHost;
  vars: Record<string, unknown>;
  artifacts: ArtifactLookup;
}

/** Placeholder digest for a missing artifact; never sent, because the render then fails. */
const MISSING_SHA = '0'.repeat(64);

/**
 * Renders role `name` for one host. Returns the tasks and handlers, or every problem at once:
 * unknown role, invalid or unknown vars (`/vars/...`), cross-field rules, and each artifact the
 * mirror lacks for the host's arch (`/artifacts/<name>`).
 */
export function renderRole(name: string, options: RenderOptions): RenderResult {
  const role = ROLES.get(name);
  if (role === undefined) {
    return { ok: false, problems: [{ path: '/role', message: `unknown role "${name}"; known roles: ${[...ROLES.keys()].join(', ')}` }] };
  }
  const checked = checkVars(role.vars, options.vars);
  if (!checked.ok) return { ok: false, problems: checked.problems };
  const problems: RenderProblem[] = [];
  const { host } = options;
  const artifact = (artifactName: string, version?: string): ArtifactRecord => {
    const found = options.artifacts.find({ name: artifactName, arch: host.arch, ...(version === undefined ? {} : { version }) });
    if (found !== null) return found;
    const what = version === undefined ? `"${artifactName}" (any version)` : `"${artifactName}" ${version}`;
    problems.push({ path: `/artifacts/${artifactName}`, message: `the mirror has no ${what} for ${host.arch}; import or fetch it (ballastctl artifacts)` });
    return { name: artifactName, version: version ?? '0.0.0', arch: host.arch, sha256: MISSING_SHA };
  };
  const images = () => options.artifacts.images(host.arch);
  const rendered = role.render({ host, vars: checked.value, artifact, images, problem: (path, message, code) => problems.push(code === undefined ? { path, message } : { path, message, code }) });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, role: rendered };
}

/** The vars as given, with the role's secrets redacted (for storage and display); unknown roles pass through. */
export function redactRoleVars(name: string, vars: Record<string, unknown>): Record<string, unknown> {
  const role = ROLES.get(name);
  return role === undefined ? vars : (redactVars(role.vars as TObject, vars) as Record<string, unknown>);
}
