/**
 * Which imported artifacts are trusted (issue 16, "artifacts are trusted by construction"): one
 * whose name, version and arch are in the built-in catalogue must be the catalogue's pinned build
 * (same sha256); anything else is trusted only when an admin imports it. A signed-manifest scheme
 * (an ed25519 key the admin configures, so that an operator can import a signed third-party bundle)
 * is planned and not built yet.
 */
import { type ArtifactSpec, artifactLabel, type Catalogue } from '../../../shared/src/artifacts-api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';

/** Who is importing, as far as trust goes. */
export interface ImportTrust {
  /**
   * True for an admin: artifacts the catalogue does not pin are accepted, and so is a build of a
   * pinned name and version with another sha256 (the admin decides what is trusted; the lab's
   * stand-ins are published under catalogue versions). False (the default) for everyone else.
   */
  admin: boolean;
  /** The pins; the built-in catalogue unless a test says otherwise. */
  pins?: Catalogue;
}

/** What {@link checkTrust} found: the entries an admin let through although the catalogue pins another build. */
export interface TrustReport {
  overriddenPins: string[];
}

/**
 * Refuses the whole manifest (BALLAST_ERR_ARTIFACT_UNTRUSTED, naming every entry) unless each
 * entry is pinned with the same sha256 or the importer is an admin. Runs before any artifact is
 * unpacked.
 */
export function checkTrust(manifest: readonly ArtifactSpec[], trust: ImportTrust): TrustReport {
  const pins = trust.pins ?? DEFAULT_CATALOGUE;
  const refused: string[] = [];
  const overriddenPins: string[] = [];
  for (const e of manifest) {
    const pin = pins.find((p) => p.name === e.name && p.version === e.version && p.arch === e.arch && p.os === e.os);
    if (pin !== undefined && pin.sha256 === e.sha256) continue;
    const why = pin === undefined ? 'not in the built-in catalogue' : `the built-in catalogue pins sha256 ${pin.sha256}, the manifest says ${e.sha256}`;
    if (trust.admin) {
      if (pin !== undefined) overriddenPins.push(`${artifactLabel(e)}: ${why}`);
      continue;
    }
    refused.push(`${artifactLabel(e)} (${why})`);
  }
  if (refused.length > 0) {
    throw new BallastError(
      'BALLAST_ERR_ARTIFACT_UNTRUSTED',
      `failed to import bundle: ${refused.join('; ')}; only the catalogue's pinned builds may be imported by an operator, anything else needs an admin; nothing was imported`,
    );
  }
  return { overriddenPins };
}
