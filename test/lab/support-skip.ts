/**
 * The preamble every lab test file shares: whether the lab can run here (root, and the host tools
 * `scripts/install-lab-deps.sh` installs), and the progress and FIGURE lines it prints.
 */
import { spawnSync } from 'node:child_process';

/** The host tools the lab needs (apt-get: for the packages the hosts install). */
export const LAB_TOOLS: readonly string[] = ['systemd-nspawn', 'debootstrap', 'ip', 'nsenter', 'dpkg-deb', 'apt-get'];

/**
 * Why the lab tests of a file cannot run here — not root, or some of `tools` missing — or null when
 * they can. When they cannot, prints `<what> skipped: <reason>` (`what`: e.g. "role lab tests").
 * For `describe.skipIf(skipReason !== null)`.
 */
export function labSkipReason(what: string, tools: readonly string[] = LAB_TOOLS): string | null {
  const missing = tools.filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
  const isRoot = process.getuid?.() === 0;
  const skipReason = !isRoot ? 'not root' : missing.length > 0 ? `missing ${missing.join(', ')} (run scripts/install-lab-deps.sh)` : null;
  if (skipReason) console.log(`${what} skipped: ${skipReason}`);
  return skipReason;
}

/** A progress line of a lab test. */
export const log = (msg: string): void => console.log(`lab: ${msg}`);

/** A duration in seconds with two decimals, as figures print them. */
export const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

/**
 * The figures of one test file: `figure()` prints a `FIGURE name: value` line at once and keeps
 * it in `figures`, for the summary the file prints at the end.
 */
export function figureRecorder(): { figures: Array<[string, string]>; figure: (name: string, value: string) => void } {
  const figures: Array<[string, string]> = [];
  const figure = (name: string, value: string): void => {
    figures.push([name, value]);
    console.log(`FIGURE ${name}: ${value}`);
  };
  return { figures, figure };
}
