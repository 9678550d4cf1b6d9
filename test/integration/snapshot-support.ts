/**
 * Helpers of the snapshot tests: a real single-member etcd on loopback (plain HTTP), started by
 * PID and stopped by PID.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort, tempDir, waitFor } from './harness.js';

export { freePort, tempDir };

/** A running etcd this test started. */
export interface StartedEtcd {
  url: string;
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts etcd with its data in `dataDir` and waits for /health. */
export async function startEtcd(binDir: string, dataDir: string, clientPort: number, peerPort: number): Promise<StartedEtcd> {
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const child = spawn(
    join(binDir, 'etcd'),
    ['--name=t', `--data-dir=${dataDir}`, '--unsafe-no-fsync', `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`, `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`, `--initial-cluster=t=${peer}`, `--listen-metrics-urls=http://127.0.0.1:${await freePort()}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(`etcd on ${url}`, async () => {
    const res = await fetch(`${url}/health`).catch(() => null);
    return res?.status === 200 ? true : undefined;
  }, 30_000, 100).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw new Error(`${String(err)}\n${out}`);
  });
  return {
    url,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
