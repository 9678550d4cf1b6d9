/**
 * Typed builders for the tasks roles emit: each takes the module's own argument type, so a role
 * that passes a wrong argument does not compile, and the orchestrator still validates the whole
 * RunSpec against the schema before sending.
 */
import { releaseVersion } from '../../../shared/src/version-compare.js';
import { type ComponentSpec, componentFilePath } from '../../../shared/src/components.js';
import type { ModuleArgs, ModuleName } from '../../../shared/src/tasks/modules.js';
import type { ArtifactRecord, RoleTask } from './types.js';

/** Extra task fields: handlers to notify on change, and the secret marker. */
export interface TaskExtras {
  notify?: string[];
  sensitive?: boolean;
}

/** One task of module `M`. */
export function task<M extends ModuleName>(name: string, module: M, args: ModuleArgs<M>, extras: TaskExtras = {}): RoleTask {
  const out: Record<string, unknown> = { name, module, args };
  if (extras.notify !== undefined && extras.notify.length > 0) out.notify = extras.notify;
  if (extras.sensitive === true) out.sensitive = true;
  // The union of per-module task shapes cannot be narrowed from a generic M; the fields match by construction.
  return out as RoleTask;
}

/** Install files from a mirrored artifact. */
export function artifactTask(
  name: string,
  artifact: ArtifactRecord,
  install: ModuleArgs<'artifact'>['install'],
  extras: TaskExtras = {},
): RoleTask {
  const { name: artifactName, version, arch, sha256 } = artifact;
  return task(name, 'artifact', { name: artifactName, version, arch, sha256, install }, extras);
}

/** A directory with a mode (root-owned). */
export function directoryTask(path: string, mode = '0755'): RoleTask {
  return task(`Create directory ${path}`, 'directory', { path, mode, owner: 'root', group: 'root' });
}

/**
 * The component registration file the agent's supervisor reads. JSON has no comments, so it carries
 * no managed-by header and is written with `force`: components.d is Ballast's own directory.
 */
export function componentTask(spec: ComponentSpec): RoleTask {
  return task(
    `Register component ${spec.name}`,
    'file',
    { path: componentFilePath(spec.name), content: `${JSON.stringify(spec, null, 2)}\n`, mode: '0644', headerComment: null, force: true },
  );
}

/**
 * Removes a component registration, so the supervisor stops watching (and restarting) its unit.
 * `force` like {@link componentTask}: the JSON file has no managed-by header, and without it the
 * agent refuses to touch it (BALLAST_ERR_FILE_UNMANAGED — found on real Kubernetes: every
 * `cluster recover` failed at `etcd/stop`, and a failed join's rollback would have too).
 */
export function unregisterComponentTask(name: string): RoleTask {
  return task(`Unregister component ${name}`, 'file', { path: componentFilePath(name), content: '', state: 'absent', force: true });
}

/**
 * The release a version names, as upstream's archive layouts spell it: no leading `v` (`v3.5.12`
 * and `3.5.12` are one release) and no build metadata (`3.5.33+ballast.lab` is a build of 3.5.33,
 * packed as etcd-v3.5.33-linux-amd64/).
 */
export function bareVersion(version: string): string {
  const release = releaseVersion(version);
  return release.startsWith('v') ? release.slice(1) : release;
}

/** The parent directory of an absolute path (`/etc/containerd/config.toml` → `/etc/containerd`). */
export function parentDir(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '/' : path.slice(0, cut);
}
