/**
 * One real etcd member (Debian's etcd from the cached test bundle, as the etcd_member integration
 * test uses it) on loopback with a plain-HTTP metrics listener, for Prometheus to scrape etcd's own
 * metrics. Killed by its PID.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { debianTestBundle } from '../../support/bundle.js';
import { freePort, waitFor } from '../harness.js';

const run = promisify(execFile);

/** A running single-member etcd. */
export interface TestEtcd {
  /** host:port of its /metrics (plain HTTP). */
  metricsTarget: string;
  pid: number;
  /** SIGKILLs it by PID and waits for the exit. */
  kill(): Promise<void>;
}

/** Unpacks etcd from the Debian test bundle into `dir`; its path. Throws when the bundle cannot be built (no apt). */
export async function etcdBinary(dir: string): Promise<string> {
  const bundle = await debianTestBundle();
  const spec = bundle.manifest.find((a) => a.name === 'etcd');
  if (spec === undefined) throw new Error('the test bundle has no etcd');
  await run('tar', ['-xf', bundle.path, '-C', dir, spec.file]);
  await run('tar', ['-xzf', join(dir, spec.file), '-C', dir]);
  return join(dir, spec.file.replace(/\.tar\.gz$/, ''), 'etcd');
}

/** Starts member `name` and waits (≤ 20 s) until its metrics say it has a leader. */
export async function startEtcd(opts: { binary: string; dir: string; name: string }): Promise<TestEtcd> {
  const [client, peer, metrics] = [await freePort(), await freePort(), await freePort()];
  const peerUrl = `http://127.0.0.1:${peer}`;
  const logFd = openSync(join(opts.dir, `${opts.name}.log`), 'a');
  const child: ChildProcess = spawn(
    opts.binary,
    [
      `--name=${opts.name}`,
      `--data-dir=${join(opts.dir, `${opts.name}.etcd`)}`,
      `--listen-client-urls=http://127.0.0.1:${client}`,
      `--advertise-client-urls=http://127.0.0.1:${client}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=${opts.name}=${peerUrl}`,
      `--listen-metrics-urls=http://127.0.0.1:${metrics}`,
      '--logger=zap',
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pid = child.pid ?? -1;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    await exited;
  };
  try {
    await waitFor(
      `etcd ${opts.name} to have a leader`,
      async () => {
        const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`, { signal: AbortSignal.timeout(1000) })).text();
        return /^etcd_server_has_leader 1$/m.test(text) ? true : undefined;
      },
      20_000,
      200,
    );
  } catch (err) {
    await kill();
    throw err;
  }
  return { metricsTarget: `127.0.0.1:${metrics}`, pid, kill };
}
