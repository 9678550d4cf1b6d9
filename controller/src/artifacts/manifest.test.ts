import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { isBallastError } from '../../../shared/src/errors.js';
import { DEFAULT_CATALOGUE } from './catalogue.js';
import { catalogueToSpecs, checkCatalogueEntries, parseCatalogue, parseManifest, urlFileName } from './manifest.js';

const good = {
  name: 'etcd',
  version: '3.4.23',
  os: 'linux',
  arch: 'amd64',
  sha256: 'a'.repeat(64),
  url: 'https://github.com/etcd-io/etcd/releases/download/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz',
  file: 'etcd-v3.4.23-linux-amd64.tar.gz',
};

function failure(fn: () => unknown): { code: string; message: string; path: string | undefined } {
  try {
    fn();
  } catch (err) {
    if (isBallastError(err)) return { code: err.code, message: err.message, path: err.path };
    throw err;
  }
  throw new Error('expected a failure');
}

describe('bundle manifest validation', () => {
  it('accepts a list of complete entries', () => {
    const m = parseManifest(stringify([good, { ...good, name: 'runc', file: 'sub/runc.amd64' }]));
    expect(m).toHaveLength(2);
    expect(m[1]?.file).toBe('sub/runc.amd64');
  });

  it('accepts container images whose name and version fit their reference, and refuses the others', () => {
    const image = { ...good, name: 'image-pause', version: '3.10.2', file: 'images/pause_3.10.2.tar', image: { ref: 'registry.k8s.io/pause:3.10.2', id: `sha256:${'b'.repeat(64)}` } };
    expect(parseManifest(stringify([image]))[0]?.image).toEqual(image.image);
    expect(failure(() => parseManifest(stringify([{ ...image, name: 'image-kube-apiserver' }])))).toMatchObject({
      code: 'BALLAST_ERR_VALIDATION',
      path: '/0/image',
      message: expect.stringContaining('must be named image-pause'),
    });
    expect(failure(() => parseManifest(stringify([{ ...image, version: '3.9' }]))).message).toContain('must be its tag 3.10.2');
    for (const bad of [{ ref: 'pause:3.10.2', id: image.image.id }, { ref: image.image.ref, id: 'b'.repeat(64) }, { ref: `registry.k8s.io/pause@sha256:${'b'.repeat(64)}`, id: image.image.id }]) {
      expect(failure(() => parseManifest(stringify([{ ...image, image: bad }]))).path).toMatch(/^\/0\/image\/(ref|id)$/);
    }
  });

  it('names the field of the first problem', () => {
    const f = failure(() => parseManifest(stringify([good, { ...good, name: 'x', sha256: 'ABC' }])));
    expect(f.code).toBe('BALLAST_ERR_VALIDATION');
    expect(f.path).toBe('/1/sha256');
    expect(f.message).toMatch(/^failed to read manifest\.yaml: \/1\/sha256/);
  });

  it('refuses unsafe file paths, versions and unknown fields', () => {
    for (const file of ['../etc/passwd', '/abs/file', 'a/../b', '.hidden', 'a//b']) {
      expect(failure(() => parseManifest(stringify([{ ...good, file }]))).path).toBe('/0/file');
    }
    expect(failure(() => parseManifest(stringify([{ ...good, version: '..' }]))).path).toBe('/0/version');
    expect(failure(() => parseManifest(stringify([{ ...good, extra: 1 }]))).code).toBe('BALLAST_ERR_VALIDATION');
    expect(failure(() => parseManifest(stringify([{ ...good, url: 'ftp://x/y' }]))).path).toBe('/0/url');
  });

  it('refuses duplicate keys and duplicate files, an empty list, and non-YAML', () => {
    expect(failure(() => parseManifest(stringify([good, { ...good, file: 'other' }]))).message).toContain('entries 0 and 1 are both etcd 3.4.23 (amd64)');
    expect(failure(() => parseManifest(stringify([good, { ...good, version: '3.5.0' }]))).message).toContain('both name file');
    expect(failure(() => parseManifest('[]')).code).toBe('BALLAST_ERR_VALIDATION');
    expect(failure(() => parseManifest('{ not: [yaml')).message).toContain('not valid YAML');
  });
});

describe('catalogues', () => {
  it('derive the file name from the URL unless given', () => {
    const [spec] = catalogueToSpecs([{ ...good, file: undefined }]);
    expect(spec?.file).toBe('etcd-v3.4.23-linux-amd64.tar.gz');
    expect(urlFileName('https://x/a/runc.amd64?x=1')).toBe('runc.amd64');
    expect(urlFileName('https://x/dir/')).toBeNull();
    expect(failure(() => catalogueToSpecs([{ ...good, file: undefined, url: 'https://x/' }])).path).toBe('/0/url');
  });

  it('parse from YAML or JSON with the same checks', () => {
    const { file: _f, ...entry } = good;
    expect(parseCatalogue(JSON.stringify([entry]))).toHaveLength(1);
    expect(failure(() => parseCatalogue(stringify([entry, entry]))).message).toContain('are both');
  });

  it('the built-in catalogue is valid, pinned and covers every component', () => {
    const specs = checkCatalogueEntries(DEFAULT_CATALOGUE);
    expect(specs.map((s) => s.name).sort()).toEqual(['cni-plugins', 'containerd', 'crictl', 'etcd', 'kubeadm', 'kubectl', 'kubelet', 'runc']);
    for (const s of specs) {
      expect(s.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(s.url).toMatch(/^https:\/\/(github\.com|dl\.k8s\.io)\//);
      expect(s.url).toContain(s.version);
    }
    expect(new Set(specs.map((s) => s.sha256)).size).toBe(specs.length);
  });
});
