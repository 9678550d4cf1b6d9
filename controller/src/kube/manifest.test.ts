import { describe, expect, it } from 'vitest';
import { KubeApiError } from './errors.js';
import { MAX_MANIFEST_BYTES, MAX_MANIFEST_OBJECTS, parseManifest } from './manifest.js';

const cm = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  namespace: kube-system\n`;
const problem = (text: string): KubeApiError => {
  try {
    parseManifest(text);
  } catch (err) {
    expect(err).toBeInstanceOf(KubeApiError);
    expect((err as KubeApiError).code).toBe('BALLAST_ERR_VALIDATION');
    return err as KubeApiError;
  }
  throw new Error('parsed');
};

describe('parseManifest', () => {
  it('skips empty documents and flattens a v1 List, keeping order', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${cm('b').trim().replace(/\n/g, '\n  ')}\n- ${cm('c').trim().replace(/\n/g, '\n  ')}\n`;
    const objects = parseManifest(`---\n${cm('a')}---\n# only a comment\n---\n${list}`);
    expect(objects.map((o) => o.metadata.name)).toEqual(['a', 'b', 'c']);
  });

  it('reads YAML 1.1 as kubectl does: an unquoted on is a boolean', () => {
    const [o] = parseManifest(`${cm('a')}data:\n  enabled: on\n`);
    expect(o?.data).toEqual({ enabled: true });
  });

  it('lists every problem with its document path, and duplicates', () => {
    const err = problem(`${cm('a')}---\n${cm('a')}---\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n---\na: [\n`);
    expect(err.message).toContain('/documents/1: ConfigMap a appears twice');
    expect(err.message).toContain('/documents/2/apiVersion');
    expect(err.message).toContain('/documents/3:');
  });

  it('bounds size, object count and alias expansion', () => {
    expect(problem(`${cm('a')}data:\n  x: "${'x'.repeat(MAX_MANIFEST_BYTES)}"\n`).message).toMatch(/over the 2097152-byte limit/);
    const many = Array.from({ length: MAX_MANIFEST_OBJECTS + 1 }, (_, i) => cm(`cm-${i}`)).join('---\n');
    expect(problem(many).message).toMatch(/501 objects is over the limit of 500/);
    const bomb = `${cm('a')}data:\n  a: &a ["x","x","x","x","x","x","x","x","x"]\n  b: &b [${Array(120).fill('*a').join(',')}]\n`;
    expect(problem(bomb).message).toMatch(/alias/i);
  });
});
