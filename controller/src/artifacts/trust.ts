/**
 * Which imported artifacts are trusted (issue 16, "artifacts are trusted by construction"):
 *
 * - An artifact whose name, version, os and arch are in the built-in catalogue must be the
 *   catalogue's pinned build (same sha256): always, for anyone, signed or not. There is no override:
 *   another build of a pinned version is published under another version (`1.36.3+mybuild`).
 * - Anything else is imported only by an admin AND only when the bundle's `manifest.yaml` is signed
 *   (ed25519, shared/src/artifacts-signature.ts) by a key the controller was started with
 *   (`--artifact-trust-key`, files an admin places on the controller; no API adds keys). The manifest
 *   lists every file's sha256, so the signature covers the whole bundle.
 *
 * A bundle of pinned builds only needs no signature, and a signature on it is not checked: its
 * files are verified against the pins, which is the stronger guarantee. The catalogue pins a build
 * per platform; a platform it does not list (arm64 builds of a pinned version) is not pinned.
 */
import { type ArtifactSpec, artifactLabel, type Catalogue } from '../../../shared/src/artifacts-api.js';
import { BUNDLE_SIGNATURE, parseSignature, type TrustKey, verifyManifest } from '../../../shared/src/artifacts-signature.js';
import { BallastError } from '../../../shared/src/errors.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';

/** Who imports and what the controller trusts. */
export interface ImportTrust {
  /** True for an admin; false (the default) for everyone else. */
  admin: boolean;
  /** The keys the controller was started with (`--artifact-trust-key`); none: nothing unpinned is imported. */
  keys?: readonly TrustKey[];
  /** The pins; the built-in catalogue unless a test says otherwise. */
  pins?: Catalogue;
}

/** The manifest as signed: its exact bytes and the text of `manifest.yaml.sig` (null: the bundle has none). */
export interface SignedManifest {
  bytes: Uint8Array;
  signature: string | null;
}

/** What {@link checkTrust} found, for the logs: the unpinned entries and the key that vouched for them. */
export interface TrustReport {
  /** Labels of the entries the catalogue does not pin (imported on the signature's say-so). */
  unpinned: string[];
  /** The verifying key, when unpinned entries needed one. */
  signedBy: TrustKey | null;
}

function samePlatform(p: { name: string; version: string; os: string; arch: string }, e: { name: string; version: string; os: string; arch: string }): boolean {
  return p.name === e.name && p.version === e.version && p.arch === e.arch && p.os === e.os;
}

function repinMessage(what: string, repinned: readonly string[]): BallastError {
  return new BallastError(
    'BALLAST_ERR_ARTIFACT_UNTRUSTED',
    `failed to ${what}: ${repinned.join('; ')}; a catalogue version is always its pinned build, whoever imports it and whatever signs it ` +
      '(publish another build under another version, e.g. 1.36.3+mybuild); nothing was imported',
  );
}

/**
 * The pin rule alone, for `artifacts fetch` with an admin's own catalogue: an entry naming a
 * built-in catalogue version must carry its pinned sha256 (checked before any download).
 */
export function checkPins(entries: readonly { name: string; version: string; os: string; arch: string; sha256: string }[], pins: Catalogue = DEFAULT_CATALOGUE): void {
  const repinned: string[] = [];
  for (const e of entries) {
    const pin = pins.find((p) => samePlatform(p, e));
    if (pin !== undefined && pin.sha256 !== e.sha256) repinned.push(`${artifactLabel(e)} (the built-in catalogue pins sha256 ${pin.sha256}, the catalogue given says ${e.sha256})`);
  }
  if (repinned.length > 0) throw repinMessage('fetch artifacts', repinned);
}

/**
 * Refuses the whole manifest unless every entry is trusted (see the module comment), before any
 * artifact is unpacked. BALLAST_ERR_ARTIFACT_UNTRUSTED: a pinned version with another sha256, or
 * unpinned entries from a non-admin. BALLAST_ERR_ARTIFACT_SIGNATURE: unpinned entries from an admin
 * without a valid signature by a trusted key. Messages name every entry concerned and why.
 */
export function checkTrust(manifest: readonly ArtifactSpec[], signed: SignedManifest, trust: ImportTrust): TrustReport {
  const pins = trust.pins ?? DEFAULT_CATALOGUE;
  const repinned: string[] = [];
  const unpinned: string[] = [];
  for (const e of manifest) {
    const pin = pins.find((p) => samePlatform(p, e));
    if (pin === undefined) unpinned.push(artifactLabel(e));
    else if (pin.sha256 !== e.sha256) repinned.push(`${artifactLabel(e)} (the built-in catalogue pins sha256 ${pin.sha256}, the manifest says ${e.sha256})`);
  }
  if (repinned.length > 0) throw repinMessage('import bundle', repinned);
  if (unpinned.length === 0) return { unpinned, signedBy: null };
  const which = `${unpinned.join(', ')} ${unpinned.length === 1 ? 'is' : 'are'} not in the built-in catalogue`;
  if (!trust.admin) {
    throw new BallastError(
      'BALLAST_ERR_ARTIFACT_UNTRUSTED',
      `failed to import bundle: ${which}; only an admin may import such artifacts, with a manifest signed by a key the controller trusts; nothing was imported`,
    );
  }
  const refuse = (why: string) => new BallastError('BALLAST_ERR_ARTIFACT_SIGNATURE', `failed to import bundle: ${which} and ${why}; nothing was imported`);
  const keys = trust.keys ?? [];
  if (keys.length === 0) {
    throw refuse('this controller trusts no signing key (start it with --artifact-trust-key FILE; `ballastctl artifacts keygen` makes a key pair)');
  }
  if (signed.signature === null) throw refuse(`the bundle has no ${BUNDLE_SIGNATURE} (sign it with \`ballastctl artifacts sign\`)`);
  const sig = parseSignature(signed.signature);
  if ('problem' in sig) throw refuse(`its ${BUNDLE_SIGNATURE} is malformed: ${sig.problem}`);
  const key = keys.find((k) => k.id === sig.keyId);
  if (key === undefined) {
    throw refuse(`${BUNDLE_SIGNATURE} is signed by key ${sig.keyId}, which this controller does not trust (trusted: ${keys.map((k) => `${k.id} from ${k.source}`).join(', ')})`);
  }
  if (!verifyManifest(signed.bytes, sig, key.key)) {
    throw refuse(`the signature by key ${key.id} (${key.source}) does not match manifest.yaml: the manifest was changed after signing, or the signature is not for it`);
  }
  return { unpinned, signedBy: key };
}
