/**
 * Parsing and validation of bundle manifests and fetch catalogues. Every problem is reported with
 * the path of the offending value (`/2/sha256`), like the config validators (STYLE.md §10).
 */
import type { TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { parse } from 'yaml';
import {
  type ArtifactSpec,
  artifactLabel,
  type BundleManifest,
  BundleManifestSchema,
  type Catalogue,
  CatalogueSchema,
} from '../../../shared/src/artifacts-api.js';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { imageEntryProblem } from '../../../shared/src/images.js';

const checkManifest = TypeCompiler.Compile(BundleManifestSchema);
const checkCatalogue = TypeCompiler.Compile(CatalogueSchema);

/** Largest manifest or catalogue accepted: a thousand entries fit in well under 1 MiB. */
export const MAX_MANIFEST_BYTES = 1024 * 1024;

function parseDocument(text: string, source: string): unknown {
  if (Buffer.byteLength(text) > MAX_MANIFEST_BYTES) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: larger than ${MAX_MANIFEST_BYTES} bytes`);
  }
  try {
    return parse(text) as unknown;
  } catch (err) {
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: not valid YAML: ${messageOf(err)}`, { cause: err });
  }
}

function validate<T>(value: unknown, check: TypeCheck<TSchema>, source: string): T {
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].slice(0, 5);
    const first = problems[0];
    const where = first?.path || '/';
    const all = problems.map((p) => `${p.path || '/'}: ${p.message}`).join('; ');
    throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: ${all}`, { path: where });
  }
  return value as T;
}

/** Refuses two entries for one name+version+arch (the mirror's key). */
function checkUniqueKeys(entries: readonly { name: string; version: string; arch: string }[], source: string): void {
  const seen = new Map<string, number>();
  entries.forEach((e, i) => {
    const key = `${e.name}\u0000${e.version}\u0000${e.arch}`;
    const before = seen.get(key);
    if (before !== undefined) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: entries ${before} and ${i} are both ${artifactLabel(e)}`, {
        path: `/${i}`,
      });
    }
    seen.set(key, i);
  });
}

/**
 * Parses a bundle's `manifest.yaml`: a list of {name, version, os, arch, sha256, url, file}. Keys
 * and file paths must be unique, so every file of the bundle is exactly one artifact.
 */
export function parseManifest(text: string, source = 'manifest.yaml'): BundleManifest {
  const manifest = validate<BundleManifest>(parseDocument(text, source), checkManifest, source);
  checkUniqueKeys(manifest, source);
  const files = new Map<string, number>();
  manifest.forEach((e, i) => {
    const before = files.get(e.file);
    if (before !== undefined) {
      throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: entries ${before} and ${i} both name file ${e.file}`, {
        path: `/${i}/file`,
      });
    }
    files.set(e.file, i);
    const problem = e.image === undefined ? null : imageEntryProblem({ name: e.name, version: e.version, image: e.image });
    if (problem !== null) throw new BallastError('BALLAST_ERR_VALIDATION', `failed to read ${source}: /${i}: ${problem}`, { path: `/${i}/image` });
  });
  return manifest;
}

/** Parses a versions catalogue (YAML or JSON list of {name, version, os, arch, sha256, url, file?}). */
export function parseCatalogue(text: string, source = 'catalogue'): Catalogue {
  const catalogue = validate<Catalogue>(parseDocument(text, source), checkCatalogue, source);
  checkUniqueKeys(catalogue, source);
  catalogueToSpecs(catalogue, source);
  return catalogue;
}

/** Validates an already-decoded catalogue (e.g. a request body) the same way as {@link parseCatalogue}. */
export function checkCatalogueEntries(catalogue: Catalogue, source = 'catalogue'): ArtifactSpec[] {
  validate<Catalogue>(catalogue, checkCatalogue, source);
  checkUniqueKeys(catalogue, source);
  return catalogueToSpecs(catalogue, source);
}

/** Catalogue entries as artifact specs; `file` defaults to the last segment of the URL's path. */
export function catalogueToSpecs(catalogue: Catalogue, source = 'catalogue'): ArtifactSpec[] {
  return catalogue.map((e, i) => {
    const file = e.file ?? urlFileName(e.url);
    if (file === null) {
      throw new BallastError(
        'BALLAST_ERR_VALIDATION',
        `failed to read ${source}: /${i}/url ${e.url} does not end in a usable file name; set "file"`,
        { path: `/${i}/url` },
      );
    }
    return { name: e.name, version: e.version, os: e.os, arch: e.arch, sha256: e.sha256, url: e.url, file };
  });
}

/** The last path segment of a URL if it is a safe file name (no dot first, no odd characters). */
export function urlFileName(url: string): string | null {
  let last: string;
  try {
    last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  } catch {
    return null;
  }
  return /^[A-Za-z0-9_+-][A-Za-z0-9._+-]{0,254}$/.test(last) ? last : null;
}
