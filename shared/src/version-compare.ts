/**
 * The one ordering of version strings in Ballast: artifact versions in the mirror (`v3.5.12`,
 * `1.30.0-rc.1`) and agent package versions served by /install.sh (`0.1.0+lab2`). "Newest" must
 * mean the same thing in both places, so both use {@link compareVersions}.
 *
 * Build metadata names a build, not a release. A cluster may pin `kubernetes: 1.36.3+ballast.standin`:
 * the artifact lookup uses that whole version, so a differently built binary is a different artifact
 * and never collides with the catalogue's pin of upstream's 1.36.3, while everything Kubernetes sees
 * (kubeadm's `kubernetesVersion`, image tags, version checks) uses {@link releaseVersion}, `1.36.3`,
 * and compares with {@link compareReleases}, which follows SemVer precedence.
 */

interface ParsedVersion {
  release: string[];
  pre: string | undefined;
  build: string | undefined;
}

/** `v1.2.3-rc.1+lab2` → release [1, 2, 3], pre `rc.1`, build `lab2` (the `v` is decoration). */
function parse(version: string): ParsedVersion {
  const [rest = '', build] = splitOnce(version.replace(/^v/, ''), '+');
  const [main = '', pre] = splitOnce(rest, '-');
  return { release: main.split('.'), pre, build };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** Numbers compare as numbers; anything else as text with embedded numbers compared numerically. */
function comparePart(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return Math.sign(Number(a) - Number(b));
  return Math.sign(a.localeCompare(b, 'en', { numeric: true }));
}

/**
 * Orders versions; negative when `a` is older. The rule:
 * 1. A leading `v` is ignored (`v3.5.12` equals `3.5.12`).
 * 2. The release parts (dot-separated, before any `-` or `+`) compare one by one, numerically where
 *    both are numbers (`1.10.0` > `1.9.0`); a missing part counts as `0` (`1.7` equals `1.7.0`).
 * 3. A pre-release (`-rc.1`) sorts before its release, as in SemVer; two pre-releases compare with
 *    embedded numbers as numbers (`rc.2` < `rc.10`).
 * 4. Build metadata (`+lab2`) sorts after the same version without it, and two builds compare like
 *    pre-releases. SemVer ignores build metadata for precedence; we do not, because a lab rebuild
 *    of a package (`0.1.0+lab2`) must count as newer than the release it was built from, and the
 *    mirror needs one deterministic newest among them.
 */
export function compareVersions(a: string, b: string): number {
  const x = parse(a);
  const y = parse(b);
  for (let i = 0; i < Math.max(x.release.length, y.release.length); i++) {
    const diff = comparePart(x.release[i] ?? '0', y.release[i] ?? '0');
    if (diff !== 0) return diff;
  }
  if (x.pre !== y.pre) {
    if (x.pre === undefined) return 1;
    if (y.pre === undefined) return -1;
    return comparePart(x.pre, y.pre);
  }
  if (x.build === y.build) return 0;
  if (x.build === undefined) return -1;
  if (y.build === undefined) return 1;
  return comparePart(x.build, y.build);
}

/**
 * The version without its build metadata (`v1.36.3+ballast.standin` → `v1.36.3`,
 * `1.36.3-rc.1+b2` → `1.36.3-rc.1`): the release a build is of, as Kubernetes and its tools name it.
 * A leading `v` is kept as given.
 */
export function releaseVersion(version: string): string {
  const at = version.indexOf('+');
  return at < 0 ? version : version.slice(0, at);
}

/**
 * SemVer precedence: {@link compareVersions} with build metadata ignored, so `1.36.3+ballast.standin`
 * equals `1.36.3`. For checks about what a release supports (a kubeadm API, a minimum version),
 * never for picking the newest artifact in a mirror.
 */
export function compareReleases(a: string, b: string): number {
  return compareVersions(releaseVersion(a), releaseVersion(b));
}
