import { describe, expect, it } from 'vitest';
import { hostPath } from './module.js';
import { rejection } from './testing.js';

describe('hostPath', () => {
  it('resolves absolute paths under the root', () => {
    expect(hostPath({ root: '/' }, '/etc/hosts')).toBe('/etc/hosts');
    expect(hostPath({ root: '/tmp/r' }, '/etc/hosts')).toBe('/tmp/r/etc/hosts');
    expect(hostPath({ root: '/tmp/r/' }, '/')).toBe('/tmp/r/');
  });

  it('refuses relative paths and any ".." segment', async () => {
    for (const path of ['etc/hosts', '/etc/../../x', '/..', '/a/..']) {
      expect(await rejection(Promise.resolve().then(() => hostPath({ root: '/tmp/r' }, path)))).toMatchObject({
        code: 'BALLAST_ERR_PATH_OUTSIDE_ROOT',
      });
    }
    expect(hostPath({ root: '/tmp/r' }, '/a/..b')).toBe('/tmp/r/a/..b');
  });

  it('refuses non-canonical paths instead of normalising them', async () => {
    for (const path of ['/./.', '/./etc', '/etc//hosts', '/etc/', '/etc/.']) {
      expect(await rejection(Promise.resolve().then(() => hostPath({ root: '/tmp/r' }, path)))).toMatchObject({ code: 'BALLAST_ERR_UNSAFE_PATH' });
    }
  });
});
