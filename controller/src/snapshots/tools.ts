/**
 * The etcd and Kubernetes binaries the controller itself runs for restore drills (etcdutl, etcd,
 * kube-apiserver), found in the directories given with `--drill-bin-dir` (repeatable, searched in
 * order; scripts/upstream/build.sh fills /var/cache/ballast/{etcd,kube}/<version>/bin). Every
 * command is a fixed argv built here: nothing an API caller sends reaches an argument.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';

/** Output kept from a tool (stdout for parsing, the tail of stderr for errors). */
const MAX_TOOL_OUTPUT = 1024 * 1024;

/** The first executable `name` in `dirs`, or null. */
export async function findTool(dirs: readonly string[], name: string): Promise<string | null> {
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      await access(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory: the next one is tried, absence is the null answer
    }
  }
  return null;
}

/** Like {@link findTool} but BALLAST_ERR_TOOL_MISSING, naming the directories, when absent. */
export async function requireTool(dirs: readonly string[], name: string): Promise<string> {
  const path = await findTool(dirs, name);
  if (path !== null) return path;
  const where = dirs.length === 0 ? 'no --drill-bin-dir was given' : `not in ${dirs.join(', ')}`;
  throw new BallastError('BALLAST_ERR_TOOL_MISSING', `failed to find ${name}: ${where} (give the directory with --drill-bin-dir)`);
}

/** Runs `bin args` to completion; resolves with stdout, BALLAST_ERR_COMMAND_FAILED/TIMEOUT otherwise. */
export function runTool(bin: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: MAX_TOOL_OUTPUT, env: { PATH: '/usr/bin:/bin' } }, (err, stdout, stderr) => {
      if (err === null) return resolve(stdout);
      const e = err as NodeJS.ErrnoException & { killed?: boolean };
      const tail = stderr.trim().split('\n').slice(-5).join(' | ');
      const code = e.killed === true ? 'BALLAST_ERR_COMMAND_TIMEOUT' : 'BALLAST_ERR_COMMAND_FAILED';
      reject(new BallastError(code, `failed to run ${bin} ${args[0] ?? ''} ${args[1] ?? ''}: ${messageOf(err)}${tail ? `: ${tail}` : ''}`, { cause: err }));
    });
  });
}

const StatusSchema = Type.Object({
  hash: Type.Integer({ minimum: 0 }),
  revision: Type.Integer({ minimum: 0 }),
  totalKey: Type.Integer({ minimum: 0 }),
  totalSize: Type.Integer({ minimum: 0 }),
});

/** `etcdutl snapshot status` of a database file. */
export interface SnapshotStatus {
  hash: string;
  revision: string;
  totalKeys: number;
  totalSize: number;
}

/** Reads a database file's hash, revision and key count with `etcdutl snapshot status -w json`. */
export async function snapshotStatus(etcdutl: string, dbPath: string): Promise<SnapshotStatus> {
  const out = await runTool(etcdutl, ['snapshot', 'status', dbPath, '-w', 'json'], 120_000);
  let value: unknown;
  try {
    value = JSON.parse(out.trim().split('\n').pop() ?? '');
  } catch (err) {
    throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to read the status of ${dbPath}: etcdutl printed no JSON`, { cause: err });
  }
  if (!compiledCheck(StatusSchema).Check(value)) throw new BallastError('BALLAST_ERR_SNAPSHOT_INVALID', `failed to read the status of ${dbPath}: unexpected etcdutl output`);
  return { hash: String(value.hash), revision: String(value.revision), totalKeys: value.totalKey, totalSize: value.totalSize };
}

/** A child process this module started; stopped by its own pid. */
export interface ToolProcess {
  readonly pid: number;
  /** The last 8 KiB of its output, for error messages. */
  output(): string;
  /** True once it has exited. */
  exited(): boolean;
  /** SIGTERM, then SIGKILL after 5 s; resolves once it has exited. */
  stop(): Promise<void>;
}

/** Starts a long-running tool (etcd, kube-apiserver) with a fixed argv. */
export function startTool(bin: string, args: readonly string[]): ToolProcess {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin' } });
  let out = '';
  let done = false;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', () => {
      done = true;
      resolve();
    });
    child.once('error', (err) => {
      out += `\n${messageOf(err)}`;
      done = true;
      resolve();
    });
  });
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8192);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return {
    pid: child.pid ?? -1,
    output: () => out,
    exited: () => done,
    async stop() {
      if (done) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    },
  };
}
