import { describe, expect, it } from 'vitest';
import { compareReleases, compareVersions, releaseVersion } from './version-compare.js';

describe('compareVersions', () => {
  it('orders release parts numerically and ignores a leading v', () => {
    expect(['1.10.0', '1.9.0', 'v1.9.1', '0.10.0', '0.2.0'].sort(compareVersions)).toEqual(['0.2.0', '0.10.0', '1.9.0', 'v1.9.1', '1.10.0']);
    expect(compareVersions('v3.5.12', '3.5.12')).toBe(0);
    expect(compareVersions('1.7', '1.7.0')).toBe(0);
  });

  it('puts a pre-release before its release and orders pre-releases numerically', () => {
    expect(['1.30.0', '1.30.0-rc.10', '1.30.0-rc.2', '1.29.9'].sort(compareVersions)).toEqual(['1.29.9', '1.30.0-rc.2', '1.30.0-rc.10', '1.30.0']);
  });

  it('puts a build after the same version without one, before the next release', () => {
    expect(['0.2.0', '0.1.0+lab10', '0.1.0', '0.1.0+lab2', '0.1.0-rc.1'].sort(compareVersions)).toEqual(['0.1.0-rc.1', '0.1.0', '0.1.0+lab2', '0.1.0+lab10', '0.2.0']);
  });

  it('is antisymmetric', () => {
    const versions = ['1.0.0', 'v1.0.0-rc.1', '1.0.0+b1', '1.0.1', '1.0'];
    for (const a of versions) for (const b of versions) expect(compareVersions(a, b) + compareVersions(b, a)).toBe(0);
  });
});

describe('releaseVersion and compareReleases', () => {
  it('drops build metadata only, keeping a leading v and a pre-release', () => {
    expect(releaseVersion('1.36.3+ballast.standin')).toBe('1.36.3');
    expect(releaseVersion('v1.36.3+ballast.standin')).toBe('v1.36.3');
    expect(releaseVersion('1.36.3-rc.1+b.2')).toBe('1.36.3-rc.1');
    expect(releaseVersion('v3.5.33')).toBe('v3.5.33');
    expect(releaseVersion('1.36.0-alpha.1')).toBe('1.36.0-alpha.1');
  });

  it('ignores build metadata for precedence (SemVer), unlike compareVersions', () => {
    expect(compareReleases('1.36.3+ballast.standin', 'v1.36.3')).toBe(0);
    expect(compareVersions('1.36.3+ballast.standin', 'v1.36.3')).toBe(1);
    expect(compareReleases('1.36.3+a', '1.36.3+b')).toBe(0);
    expect(compareReleases('1.35.9+ballast.standin', '1.36.0')).toBe(-1);
    expect(compareReleases('1.36.0-rc.1+x', '1.36.0')).toBe(-1);
  });
});
