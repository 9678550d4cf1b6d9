/**
 * Adapters from the controller's store and tracker to the run orchestrator's ports, so that
 * controller.ts wires runs with one call.
 */
import type { Logger } from 'pino';
import type { HostTracker } from '../hub/host-tracker.js';
import { type ArtifactLookup, type ArtifactRecord, redactRoleVars, renderRole } from '../roles/index.js';
import type { Store } from '../store/store.js';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { RunOrchestrator } from './orchestrator.js';
import type { RunTargetPort } from './ports.js';

/** Node's `os.arch()` names (what the agent's facts report) → the Go names artifacts use. */
const GO_ARCH: Readonly<Record<string, string>> = { x64: 'amd64', ia32: '386', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64' };

/** The artifact arch of a host whose facts say `arch`. */
export function goArch(arch: string): string {
  return GO_ARCH[arch] ?? arch.toLowerCase();
}

// The one version ordering (shared with the package mirror); re-exported for this module's callers.
export { compareVersions };

/** Something that lists the mirror's artifacts (the artifacts repo). */
export interface ArtifactListing {
  list(): ReadonlyArray<ArtifactRecord>;
}

/** An {@link ArtifactLookup} over the mirror's index: an exact version, or the newest one. */
export function mirrorLookup(mirror: ArtifactListing): ArtifactLookup {
  return {
    find({ name, version, arch }) {
      const candidates = mirror.list().filter((a) => a.name === name && a.arch === arch);
      const wanted = version?.replace(/^v/, '');
      const found =
        wanted === undefined
          ? candidates.sort((p, q) => compareVersions(q.version, p.version))[0]
          : candidates.find((a) => a.version.replace(/^v/, '') === wanted);
      return found === undefined ? null : { name: found.name, version: found.version, arch: found.arch, sha256: found.sha256 };
    },
  };
}

/** Run targets from the host inventory (store) and the live sessions (tracker). */
export function storeTargets(store: Pick<Store, 'hosts'>, tracker: Pick<HostTracker, 'get'>): RunTargetPort {
  return {
    find(name) {
      const host = store.hosts.getByName(name);
      if (host === null) return null;
      return {
        id: host.id,
        name: host.name,
        arch: host.facts === null ? null : goArch(host.facts.os.arch),
        address: host.address,
        session: tracker.get(host.id)?.session ?? null,
      };
    },
  };
}

/** Options of {@link createRunOrchestrator}. */
export interface RunWiringOptions {
  store: Pick<Store, 'runs' | 'hosts' | 'events'>;
  tracker: Pick<HostTracker, 'get'>;
  artifacts: ArtifactListing;
  log: Logger;
}

/** Builds the orchestrator over the real store and marks runs a previous process left in flight interrupted. */
export function createRunOrchestrator(opts: RunWiringOptions): RunOrchestrator {
  const artifacts = mirrorLookup(opts.artifacts);
  const orchestrator = new RunOrchestrator({
    repo: opts.store.runs,
    targets: storeTargets(opts.store, opts.tracker),
    render: (role, { host, vars }) => renderRole(role, { host, vars, artifacts }),
    redact: redactRoleVars,
    events: opts.store.events,
    log: opts.log,
  });
  orchestrator.recover();
  return orchestrator;
}
