/**
 * Adapters from the controller's store and host directory to the run orchestrator's ports, so that
 * controller.ts wires runs with one call.
 */
import type { Logger } from 'pino';
import type { HostDirectory } from '../fleet/directory.js';
import { type ArtifactLookup, type ArtifactRecord, redactRoleVars, renderRole } from '../roles/index.js';
import type { Store } from '../store/store.js';
import { compareVersions } from '../../../shared/src/version-compare.js';
import { RunOrchestrator } from './orchestrator.js';
import type { RunTargetPort } from './ports.js';

// Moved to the fleet (every host view converts its arch there); re-exported for existing importers.


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
      return found === undefined ? null : record(found);
    },
    images(arch) {
      return mirror.list().flatMap((a) => (a.image !== undefined && a.arch === arch ? [record(a)] : []));
    },
  };
}

/** The fields roles use, and nothing else of the mirror's row. */
function record(a: ArtifactRecord): ArtifactRecord {
  const { name, version, arch, sha256, image } = a;
  return image === undefined ? { name, version, arch, sha256 } : { name, version, arch, sha256, image: { ref: image.ref, id: image.id } };
}

/** Run targets from the host directory. */
export function hostTargets(hosts: Pick<HostDirectory, 'get'>): RunTargetPort {
  return {
    find(name) {
      const host = hosts.get(name);
      return host === null ? null : { id: host.id, name: host.name, arch: host.arch, address: host.address, session: host.session };
    },
  };
}

/** Options of {@link createRunOrchestrator}. */
export interface RunWiringOptions {
  store: Pick<Store, 'runs' | 'events'>;
  hosts: Pick<HostDirectory, 'get'>;
  artifacts: ArtifactListing;
  log: Logger;
}

/** Builds the orchestrator over the real store and marks runs a previous process left in flight interrupted. */
export function createRunOrchestrator(opts: RunWiringOptions): RunOrchestrator {
  const artifacts = mirrorLookup(opts.artifacts);
  const orchestrator = new RunOrchestrator({
    repo: opts.store.runs,
    targets: hostTargets(opts.hosts),
    render: (role, { host, vars }) => renderRole(role, { host, vars, artifacts }),
    redact: redactRoleVars,
    events: opts.store.events,
    log: opts.log,
  });
  orchestrator.recover();
  return orchestrator;
}
