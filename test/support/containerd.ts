/**
 * A private containerd for tests that import images: its own root, state and sockets under a temp
 * dir (no CRI plugin), started by PID and killed by PID. It needs root (it mounts snapshots).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Why a private containerd cannot run here, or null. */
export function containerdUnavailable(): string | null {
  if (!existsSync('/usr/bin/containerd') || !existsSync('/usr/bin/ctr')) return '/usr/bin/containerd or /usr/bin/ctr is not installed';
  if (process.getuid?.() !== 0) return 'containerd needs root';
  return null;
}

/** A running private containerd. */
export interface TestContainerd {
  socket: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts containerd with everything under `dir` and waits for its socket. */
export async function startContainerd(dir: string): Promise<TestContainerd> {
  await mkdir(dir, { recursive: true });
  const socket = join(dir, 'containerd.sock');
  const config = join(dir, 'config.toml');
  await writeFile(
    config,
    [
      'version = 2',
      `root = "${join(dir, 'root')}"`,
      `state = "${join(dir, 'state')}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${join(dir, 'ttrpc.sock')}"`,
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/containerd', ['--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => {
    if (log.length < 65536) log += d.toString();
  });
  const exited = new Promise<void>((res) => child.on('exit', () => res()));
  const deadline = Date.now() + 20_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}: ${log.slice(-2000)}`);
    if (Date.now() > deadline) throw new Error(`containerd did not create ${socket}: ${log.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    socket,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
