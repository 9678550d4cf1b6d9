/**
 * Test fixtures of ballastctl (STYLE.md §12): ballastctl run in-process (`runCli`) against a real
 * controller or a stand-in on loopback, with a config file naming its server and token. One way to
 * write that config and capture the output, shared by the command tests. No test-framework imports.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli.js';

/** A PEM certificate block the config accepts but nothing uses: the tests' servers speak plain http. */
export const UNUSED_CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n';

/** Where and as whom a test's ballastctl config points. */
export interface CtlTarget {
  /** The controller URL (http://127.0.0.1:PORT). */
  server: string;
  /** The operator token sent as `Bearer`. */
  token: string;
  /** The config's CA (PEM); default {@link UNUSED_CA_PEM}. */
  ca?: string;
}

/** Writes a ballastctl config for `target` at `path` (mode 0600, user `t`) and returns `path`. */
export function writeCtlConfig(path: string, target: CtlTarget): string {
  const ca = (target.ca ?? UNUSED_CA_PEM).trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
  writeFileSync(path, `apiVersion: ballast.dev/v1alpha1\nkind: Config\nserver: ${target.server}\ncaCert: |\n${ca}\ntoken: ${target.token}\nuser: t\n`, { mode: 0o600 });
  return path;
}

/** What one in-process ballastctl run printed and returned. */
export interface CtlResult {
  code: number;
  out: string;
  err: string;
}

/** Options of {@link runCtl}. */
export interface RunCtlOptions extends CtlTarget {
  /** The test's directory: the config goes to `<dir>/config`; it is also the home directory. */
  dir: string;
  /** The working directory relative `--out`/`--config` paths resolve against; default: not set. */
  cwd?: string;
}

/** Runs `ballastctl argv` in-process with a fresh config for `opts`, capturing stdout and stderr. */
export async function runCtl(argv: string[], opts: RunCtlOptions): Promise<CtlResult> {
  const config = writeCtlConfig(join(opts.dir, 'config'), opts);
  const result: CtlResult = { code: -1, out: '', err: '' };
  result.code = await runCli(argv, {
    stdout: { write: (s: string) => (result.out += s) },
    stderr: { write: (s: string) => (result.err += s) },
    env: { BALLAST_CONFIG: config },
    homedir: opts.dir,
    ...(opts.cwd === undefined ? {} : { cwd: opts.cwd }),
  });
  return result;
}
