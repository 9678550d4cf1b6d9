/**
 * Reading a manifest (the CNI's, possibly fetched from the internet by an operator) before any of
 * it reaches the API server: bounded size and object count, YAML 1.1 as kubectl reads it, `List`
 * documents flattened, every object checked for apiVersion, kind and a name — all problems at once.
 */
import { type Static, Type } from '@sinclair/typebox';
import { parseAllDocuments } from 'yaml';
import { messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { KubeApiError } from './errors.js';

/** The manifest size limit (the cluster spec's CNI manifest limit, too). */
export const MAX_MANIFEST_BYTES = 2 * 1024 * 1024;
/** More objects than any CNI needs; a bound on the requests one apply makes. */
export const MAX_MANIFEST_OBJECTS = 500;

/** What an object needs for the client to address it; the rest goes to the API server as is. */
export const ManifestObjectSchema = Type.Object({
  apiVersion: Type.String({ pattern: '^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?v[0-9]+((alpha|beta)[0-9]+)?$', maxLength: 253 }),
  kind: Type.String({ pattern: '^[A-Z][A-Za-z0-9]{0,62}$' }),
  metadata: Type.Object({
    name: Type.String({ pattern: '^[a-z0-9]([-a-z0-9.:]*[a-z0-9])?$', maxLength: 253 }),
    namespace: Type.Optional(Type.String({ pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 63 })),
  }),
});
/** An object of a manifest, as validated. */
export type ManifestObject = Static<typeof ManifestObjectSchema> & Record<string, unknown>;

/** Parses `text` into objects, or throws one BALLAST_ERR_VALIDATION listing every problem by path. */
export function parseManifest(text: string): ManifestObject[] {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_MANIFEST_BYTES) {
    throw new KubeApiError('BALLAST_ERR_VALIDATION', `failed to read manifest: ${bytes} bytes is over the ${MAX_MANIFEST_BYTES}-byte limit`);
  }
  const problems: string[] = [];
  const objects: { path: string; value: unknown }[] = [];
  parseAllDocuments(text, { version: '1.1' }).forEach((doc, i) => {
    if (doc.errors.length > 0) {
      problems.push(`/documents/${i}: ${doc.errors[0]?.message ?? 'invalid YAML'}`);
      return;
    }
    let value: unknown;
    try {
      // maxAliasCount bounds "billion laughs" expansion; the size limit above bounds the rest.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      // yaml throws (a ReferenceError) when aliases would expand past maxAliasCount.
      problems.push(`/documents/${i}: ${messageOf(err)}`);
      return;
    }
    if (value === null || value === undefined) return; // an empty document, as kubectl skips it
    const list = value as { kind?: unknown; items?: unknown };
    if (list.kind === 'List' && Array.isArray(list.items)) {
      for (const [j, item] of list.items.entries()) objects.push({ path: `/documents/${i}/items/${j}`, value: item });
    } else {
      objects.push({ path: `/documents/${i}`, value });
    }
  });
  if (objects.length > MAX_MANIFEST_OBJECTS) problems.push(`/: ${objects.length} objects is over the limit of ${MAX_MANIFEST_OBJECTS}`);
  const check = compiledCheck(ManifestObjectSchema);
  const seen = new Set<string>();
  for (const { path, value } of objects) {
    const first = check.Errors(value).First();
    if (first !== undefined) {
      problems.push(`${path}${first.path}: ${first.message.toLowerCase()}`);
      continue;
    }
    const o = value as ManifestObject;
    const id = `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (seen.has(id)) problems.push(`${path}: ${o.kind} ${o.metadata.name} appears twice`);
    seen.add(id);
  }
  if (problems.length > 0) {
    throw new KubeApiError('BALLAST_ERR_VALIDATION', `failed to read manifest: ${problems.slice(0, 20).join('; ')}`, { path: problems[0]?.split(':')[0] ?? '/' });
  }
  return objects.map((o) => o.value as ManifestObject);
}
