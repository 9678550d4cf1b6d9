/**
 * The vocabulary of roles: a role is a pure function from (host, typed vars, artifact mirror) to an
 * ordered list of tasks plus handlers (DESIGN.md "Host side"). Rendering touches nothing; the
 * orchestrator sends the result to the host's agent.
 */
import type { Static, TObject } from '@sinclair/typebox';
import type { ErrorCode } from '../../../shared/src/errors.js';
import type { ImageInfo } from '../../../shared/src/images.js';
import type { Task } from '../../../shared/src/tasks/task.js';

/** An artifact as the mirror knows it: enough for an `artifact` task. */
export interface ArtifactRecord {
  name: string;
  version: string;
  arch: string;
  sha256: string;
  /** Set for container images (shared/src/images.ts): the reference and image ID the mirror pins. */
  image?: ImageInfo;
}

/**
 * Finds artifacts in the controller's mirror (a port: the mirror's store in production, a map in
 * tests). Without `version`, the newest version the mirror holds for that arch.
 */
export interface ArtifactLookup {
  find(query: { name: string; version?: string; arch: string }): ArtifactRecord | null;
  /** Every container image artifact (a record with `image`) for `arch`, by name and version. */
  images(arch: string): ArtifactRecord[];
}

/** What a role knows about the host it renders for. */
export interface RoleHost {
  name: string;
  /** Go-style architecture (`amd64`, `arm64`), as artifacts are keyed. */
  arch: string;
  /** The address the controller sees the agent at; null when unknown. */
  address: string | null;
}

/**
 * A task as a role produces it. `sensitive` marks tasks whose content is secret (private keys):
 * the agent then reports no diff for it, and the orchestrator hides any diff it stores anyway.
 */
export type RoleTask = Task;

/** A role's output for one host. */
export interface RenderedRole {
  tasks: RoleTask[];
  handlers: RoleTask[];
}

/** One thing wrong with a render, with the path it is about (e.g. `/vars/tls/caCert`). */
export interface RenderProblem {
  path: string;
  message: string;
  /**
   * Set when the problem is a var outside its safe domain (BALLAST_ERR_UNSAFE_PATH or
   * BALLAST_ERR_UNSAFE_VALUE), so the refusal says so rather than "invalid input".
   */
  code?: ErrorCode;
}

/** What a role's render function gets. */
export interface RoleContext<V> {
  host: RoleHost;
  /** Validated vars with defaults applied. */
  vars: V;
  /**
   * The mirror's record for an artifact. A missing one is recorded as a problem (so every missing
   * artifact is listed at once) and a placeholder is returned so rendering can go on.
   */
  artifact(name: string, version?: string): ArtifactRecord;
  /** The container image artifacts the mirror holds for the host's arch (none: kubelet pulls from registries). */
  images(): ArtifactRecord[];
  /** Records a problem the vars schema cannot express (a cross-field rule, a var outside its safe domain). */
  problem(path: string, message: string, code?: ErrorCode): void;
}

/** A role: its name, a one-line description, its vars schema (with defaults) and its render. */
export interface RoleDefinition<S extends TObject = TObject> {
  name: string;
  description: string;
  vars: S;
  render(ctx: RoleContext<Static<S>>): RenderedRole;
}

/** The result of rendering a role for one host: the tasks, or every problem found. */
export type RenderResult = { ok: true; role: RenderedRole } | { ok: false; problems: RenderProblem[] };
