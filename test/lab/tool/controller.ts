import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { run, sleep } from './exec.js';
import { isAlive, type ProcRef, procRef, signal } from './proc.js';

/**
 * How the lab runs the controller and ballastctl: from the controller .deb unpacked (its bundled
 * Node runtime and rebuilt better-sqlite3, i.e. what users install) or from the repo's build.
 */
export interface ControllerRuntime {
  kind: 'package' | 'repo';
  node: string;
  controllerMain: string;
  ctlMain: string;
}

export const REPO_ROOT = resolve(import.meta.dirname, '../../..').replace(/\/dist$/, '');

/** The repo's own build, run by this machine's Node. */
export function repoRuntime(repo = REPO_ROOT): ControllerRuntime {
  return {
    kind: 'repo',
    node: process.execPath,
    controllerMain: join(repo, 'dist/controller/src/main.js'),
    ctlMain: join(repo, 'dist/ballastctl/src/main.js'),
  };
}

/** Unpacks the controller package (dpkg-deb -x) into `dir` and returns its runtime. */
export async function packageRuntime(deb: string, dir: string): Promise<ControllerRuntime> {
  mkdirSync(dir, { recursive: true });
  await run(['dpkg-deb', '-x', deb, dir], { timeoutMs: 120_000 });
  const base = join(dir, 'opt/ballast/controller');
  return {
    kind: 'package',
    node: join(base, 'node/bin/node'),
    controllerMain: join(base, 'lib/dist/controller/src/main.js'),
    ctlMain: join(base, 'lib/dist/ballastctl/src/main.js'),
  };
}

/** The newest package of `name` in distDir for `version`, or null. */
export function findDeb(distDir: string, name: string, version: string): string | null {
  const file = join(distDir, `${name}_${version}_amd64.deb`);
  if (existsSync(file)) return file;
  const any = existsSync(distDir) ? readdirSync(distDir).filter((f) => f.startsWith(`${name}_`) && f.endsWith('_amd64.deb')) : [];
  return any.length > 0 ? join(distDir, any.sort().at(-1)!) : null;
}

/** Starts the controller inside `netns`, detached from the lab CLI, logging to `logFile`. */
export function startController(options: {
  runtime: ControllerRuntime;
  netns: string;
  dataDir: string;
  address: string;
  port: number;
  logFile: string;
  /** Where the agent .deb is: the controller serves it to hosts through /install.sh. */
  packagesDir: string;
  /** `--artifact-trust-key` files: the lab trusts the test-only key its bundles are signed with. */
  trustKeys: readonly string[];
  /**
   * `--snapshot-key`: the lab's own etcd snapshot key, inside the lab dir (the default,
   * /etc/ballast/snapshot.key, would be this machine's).
   */
  snapshotKey: string;
  /** `--drill-bin-dir`s: where restore drills find etcd, etcdutl and kube-apiserver (the upstream cache). */
  drillBinDirs: readonly string[];
}): ProcRef {
  const { runtime, netns, dataDir, address, port, logFile, packagesDir } = options;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const fd = openSync(logFile, 'a');
  // nsenter execs the program: the pid we record is the controller's own.
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netns}`,
      runtime.node,
      runtime.controllerMain,
      '--data-dir',
      dataDir,
      '--listen',
      `${address}:${port}`,
      '--advertise-address',
      address,
      '--packages-dir',
      packagesDir,
      ...options.trustKeys.flatMap((k) => ['--artifact-trust-key', k]),
      '--snapshot-key',
      options.snapshotKey,
      ...options.drillBinDirs.flatMap((d) => ['--drill-bin-dir', d]),
    ],
    { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, BALLAST_LOG_LEVEL: process.env.BALLAST_LOG_LEVEL ?? 'info' } },
  );
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error('failed to start the controller: no pid');
  // exec keeps pid and start time, so this names the controller itself.
  return procRef(child.pid);
}

/** SIGTERM, then SIGKILL after `graceMs`; only the process the lab started. */
export async function stopController(ref: ProcRef | null, graceMs = 10_000): Promise<void> {
  if (!isAlive(ref)) return;
  signal(ref, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(ref) && Date.now() < deadline) await sleep(50);
  if (isAlive(ref)) signal(ref, 'SIGKILL');
  const hard = Date.now() + 5000;
  while (isAlive(ref) && Date.now() < hard) await sleep(50);
}
