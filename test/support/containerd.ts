/**
 * A private containerd for tests that import images: its own root, state and sockets (no CRI
 * plugin, no metrics listener), started by PID and stopped by PID. It needs root (it mounts
 * snapshots). One helper for every test that starts one, so each waits and stops the same way.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Why a private containerd cannot run here, or null. */
export function containerdUnavailable(): string | null {
  if (!existsSync('/usr/bin/containerd') || !existsSync('/usr/bin/ctr')) return '/usr/bin/containerd or /usr/bin/ctr is not installed';
  if (process.getuid?.() !== 0) return 'containerd needs root';
  return null;
}

/** Where {@link startContainerd} puts things. */
export interface ContainerdOptions {
  /** The config file; also the default home of the sockets. */
  dir: string;
  /** containerd's persistent root (images, content); default `<dir>/root`. */
  root?: string;
  /** containerd's state directory; default `<dir>/state`. */
  state?: string;
  /**
   * The gRPC socket; default `<dir>/containerd.sock`. Its directory is made (mode 0711) when
   * absent; the ttrpc socket sits next to it (`<socket>.ttrpc`).
   */
  socket?: string;
  /** How long to wait for `ctr version` to answer; default 30 s. */
  timeoutMs?: number;
}

/** A running private containerd. */
export interface TestContainerd {
  socket: string;
  child: ChildProcess;
  /** `ctr --address <socket> --namespace k8s.io …`. */
  ctr(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** SIGTERM, SIGKILL after 10 s; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts containerd (a directory `dir`, or {@link ContainerdOptions}) and waits until it answers
 * `ctr version`; fails with the tail of its stderr if it exits or does not answer in time.
 */
export async function startContainerd(where: string | ContainerdOptions): Promise<TestContainerd> {
  const opts = typeof where === 'string' ? { dir: where } : where;
  const { dir } = opts;
  const socket = opts.socket ?? join(dir, 'containerd.sock');
  await mkdir(dir, { recursive: true });
  await mkdir(dirname(socket), { recursive: true, mode: 0o711 });
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${opts.root ?? join(dir, 'root')}"`,
      `state = "${opts.state ?? join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '[metrics]',
      '  address = ""',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  const ctr = (...args: string[]) => run('/usr/bin/ctr', ['--address', socket, '--namespace', 'k8s.io', ...args]);
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    try {
      await ctr('version');
      break;
    } catch (err) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`containerd did not come up on ${socket}: ${String(err)}\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return { socket, child, ctr, stop };
}
