/**
 * Child processes of a benchmark: spawned with the fd soft limit raised to the hard limit, tracked
 * by PID, stopped by PID (TERM, then KILL after a grace period), and measured through /proc.
 * Nothing here ever signals a process it did not start.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/** Repository root (dist/bench/lib → ../../..). */
export const ROOT = resolve(import.meta.dirname, '../../..');
/** A program launcher in bin/. */
export const BIN = (name: string): string => join(ROOT, 'bin', name);
/** A compiled bench script in dist/bench/. */
export const BENCH_JS = (name: string): string => join(ROOT, 'dist', 'bench', name);

/** A started child with a bounded tail of its output. */
export interface Child {
  name: string;
  proc: ChildProcess;
  pid: number;
  /** Last ~64 KB of stdout+stderr. */
  tail(): string;
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<string>;
}

const TAIL_BYTES = 64 * 1024;
const children = new Set<Child>();

/** The hard fd limit of this process (what children can raise their soft limit to). */
export function hardFdLimit(): number {
  const text = execFileSync('/bin/sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  const n = Number(text);
  return Number.isFinite(n) ? n : 1024;
}

/** The soft fd limit children start with when not raised. */
export function softFdLimit(): number {
  const n = Number(execFileSync('/bin/sh', ['-c', 'ulimit -Sn'], { encoding: 'utf8' }).trim());
  return Number.isFinite(n) ? n : 1024;
}

/** Options of {@link spawnNode}. */
export interface SpawnNodeOptions {
  name: string;
  /** Node flags before the script (e.g. --inspect). */
  nodeArgs?: string[];
  /** The node binary; default this process's (e.g. the packaged agent's runtime, bench/agent-idle.ts). */
  node?: string;
  /** Open an IPC channel (process.send) to the child. */
  ipc?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Soft fd limit for the child; defaults to the hard limit. */
  nofile?: number;
  /** Forward each output line to our stderr, prefixed with the name. */
  echo?: boolean;
}

/**
 * Runs `node [nodeArgs] script [args]` through `sh -c 'ulimit -n N; exec …'`: the shell execs node, so
 * the PID we get is node's own and the raised limit applies to it.
 */
export function spawnNode(script: string, args: string[], opts: SpawnNodeOptions): Child {
  const nofile = opts.nofile ?? hardFdLimit();
  const proc = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$0" 2>/dev/null; exec "$@"', String(nofile), opts.node ?? process.execPath, ...(opts.nodeArgs ?? []), script, ...args],
    { stdio: ['ignore', 'pipe', 'pipe', ...(opts.ipc === true ? (['ipc'] as const) : [])], env: { ...process.env, ...opts.env } },
  );
  let tail = '';
  const onData = (d: Buffer) => {
    const text = d.toString();
    tail = (tail + text).slice(-TAIL_BYTES);
    if (opts.echo === true) {
      for (const line of text.split('\n')) if (line.trim() !== '') process.stderr.write(`[${opts.name}] ${line}\n`);
    }
  };
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<string>((res) => proc.once('exit', (code, signal) => res(signal ?? String(code))));
  const child: Child = { name: opts.name, proc, pid: proc.pid ?? -1, tail: () => tail, exited };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

/** Whether the child has exited. */
export function isGone(child: Child): boolean {
  return child.proc.exitCode !== null || child.proc.signalCode !== null;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(child: Child, graceMs = 10_000): Promise<string> {
  if (isGone(child)) return child.exited;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => {
    if (!isGone(child)) child.proc.kill('SIGKILL');
  }, graceMs);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}

/** SIGKILLs every child still running (abort path) and waits up to 5 s for them. */
export async function killAllChildren(): Promise<void> {
  const list = [...children];
  for (const c of list) if (!isGone(c)) c.proc.kill('SIGKILL');
  await Promise.race([Promise.all(list.map((c) => c.exited)), sleep(5000)]);
}

/** A free loopback TCP port (bound and released). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, host, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => res(port));
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- /proc measurements --------------------------------------------------------------------------

let clockTicks = 0;
/** Kernel clock ticks per second (USER_HZ) for /proc/<pid>/stat times. */
export function clkTck(): number {
  if (clockTicks === 0) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

/** CPU seconds used so far: own (utime+stime) and by waited-for children (cutime+cstime). */
export function cpuSeconds(pid: number): { self: number; children: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Fields after "(comm)": state is field 3, so utime (14) is index 11 of the rest.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const f = (i: number) => Number(rest[i] ?? 0);
  const hz = clkTck();
  return { self: (f(11) + f(12)) / hz, children: (f(13) + f(14)) / hz };
}

/** Resident set size and its lifetime peak, in MB. */
export function memoryMb(pid: number): { rss: number; hwm: number } | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}
