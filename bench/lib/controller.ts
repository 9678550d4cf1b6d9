/**
 * Starts a real controller (bin/ballast-controller) as a child process on a loopback port and waits
 * for /readyz; reads the admin token from the admin.conf it writes.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ApiClient, stringField } from './http.js';
import { BIN, type Child, freePort, isGone, sleep, spawnNode } from './proc.js';

/** A running controller child. */
export interface BenchController {
  child: Child;
  port: number;
  url: string;
  dataDir: string;
  caCert: string;
  adminToken: string;
  /** An API client with the admin token and the CA pinned. */
  api: ApiClient;
}

/** Options of {@link startController}. */
export interface StartControllerOptions {
  dataDir: string;
  heartbeatFlush?: string;
  logLevel?: string;
  nodeArgs?: string[];
  /** Listen on this port (a restart keeps its agents' URL); default a free one. */
  port?: number;
  /** Give up waiting for /readyz after this long. */
  readyTimeoutMs?: number;
  name?: string;
}

/** See the file comment. */
export async function startController(opts: StartControllerOptions): Promise<BenchController> {
  const port = opts.port ?? (await freePort());
  const child = spawnNode(
    BIN('ballast-controller'),
    [
      '--data-dir',
      opts.dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--heartbeat-flush',
      opts.heartbeatFlush ?? '50ms',
      '--log-level',
      opts.logLevel ?? 'warn',
      // The bench enrols thousands of simulated hosts from one loopback address.
      '--join-rate',
      '0',
    ],
    { name: opts.name ?? 'controller', nodeArgs: opts.nodeArgs ?? [] },
  );
  const url = `https://127.0.0.1:${port}`;
  const probe = new ApiClient({ baseUrl: url, timeoutMs: 2000 });
  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (isGone(child)) throw new Error(`controller exited before it was ready:\n${child.tail()}`);
      if (Date.now() > deadline) throw new Error(`controller not ready within ${opts.readyTimeoutMs ?? 60_000} ms:\n${child.tail()}`);
      const r = await probe.call('GET', '/readyz').catch(() => null);
      if (r?.status === 200) break;
      await sleep(100);
    }
  } finally {
    probe.close();
  }
  const conf: unknown = parse(await readFile(join(opts.dataDir, 'admin.conf'), 'utf8'));
  const caCert = stringField(conf, 'caCert');
  const adminToken = stringField(conf, 'token');
  const api = new ApiClient({ baseUrl: url, caCert, token: adminToken, maxSockets: 32 });
  return { child, port, url, dataDir: opts.dataDir, caCert, adminToken, api };
}
