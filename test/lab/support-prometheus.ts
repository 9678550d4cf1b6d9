/**
 * Debian's Prometheus for the lab (test/lab/prometheus.test.ts), run where a monitoring server of
 * this fleet would sit: in the controller's network namespace, on the lab network. From there it
 * reaches the controller (https://198.18.0.2:9443, verified against the controller's CA) and every
 * etcd member's client port (https://HOST:2379 with a client certificate of the cluster's etcd CA:
 * etcd as Ballast installs it serves plain metrics on 127.0.0.1:2381 only, so this is the scrape
 * the README recommends). Nothing is added to the root namespace: the test process reaches the
 * API through a Unix socket (file system paths cross network namespaces) that a small relay inside
 * the namespace connects to Prometheus's loopback port, plus a loopback listener in this process.
 * Both processes are recorded in the lab's state, so `lab down` ends them after a crashed test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { type Server, type Socket, createConnection, createServer } from 'node:net';
import { join } from 'node:path';
import { issueClientCert } from '../../controller/src/pki/ca.js';
import type { ClusterPkiBundle } from '../../controller/src/pki/cluster-pki.js';
import { PROMETHEUS, RULES_FILE } from '../integration/prometheus/files.js';
import { type ScrapeJob, TestPrometheus } from '../integration/prometheus/server.js';
import type { Lab } from './tool/lab.js';

/** Prometheus's port inside the controller namespace (only the relay connects to it). */
const PROM_PORT = 19090;

/** The relay inside the namespace: Unix socket (argv[1]) to 127.0.0.1:argv[2]. */
const RELAY = `const net = require('node:net');
const [sock, port] = process.argv.slice(1);
net.createServer((c) => {
  const u = net.connect(Number(port), '127.0.0.1');
  c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy());
}).listen(sock);`;

/** A lab Prometheus and the relay that serves its API to this process. */
export interface LabPrometheus {
  prom: TestPrometheus;
  /** Stops Prometheus, the relay and the loopback listener (each by its own handle / PID). */
  stop(): Promise<void>;
}

/** The scrape jobs the shipped rules expect, with the lab's targets and credentials. */
export function labScrapeJobs(opts: { lab: Lab; cluster: string; etcdHosts: readonly string[]; etcdTls: { ca: string; cert: string; key: string } }): ScrapeJob[] {
  const { lab } = opts;
  return [
    {
      job_name: 'ballast-controller',
      scheme: 'https',
      tls_config: { ca_file: join(lab.state.controllerDataDir, 'ca.crt') },
      static_configs: [{ targets: [`${lab.state.controllerAddress}:${lab.state.controllerPort}`] }],
    },
    {
      job_name: 'etcd',
      scheme: 'https',
      tls_config: { ca_file: opts.etcdTls.ca, cert_file: opts.etcdTls.cert, key_file: opts.etcdTls.key },
      static_configs: opts.etcdHosts.map((h) => ({ targets: [`${lab.host(h).address}:2379`], labels: { cluster: opts.cluster, host: h } })),
    },
  ];
}

/**
 * Starts Prometheus with the SHIPPED rules (unchanged) in the controller's namespace, scraping the
 * controller and the etcd members every second, and resolves once its API answers. `dir` holds
 * its config, TSDB and a Prometheus client certificate issued here from the cluster's etcd CA.
 */
export async function startLabPrometheus(opts: { lab: Lab; pki: ClusterPkiBundle; cluster: string; etcdHosts: readonly string[]; dir: string }): Promise<LabPrometheus> {
  const binary = PROMETHEUS();
  if (binary === null) throw new Error('failed to start Prometheus: /usr/bin/prometheus is missing (apt-get install prometheus)');
  mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
  const client = await issueClientCert({ ca: opts.pki.etcdCa, commonName: 'prometheus', validityDays: 1 });
  const etcdTls = { ca: join(opts.dir, 'etcd-ca.crt'), cert: join(opts.dir, 'etcd-client.crt'), key: join(opts.dir, 'etcd-client.key') };
  writeFileSync(etcdTls.ca, opts.pki.etcdCa.certPem);
  writeFileSync(etcdTls.cert, client.certPem);
  writeFileSync(etcdTls.key, client.keyPem, { mode: 0o600 });

  const netns = `--net=/run/netns/${opts.lab.state.controllerNetns}`;
  const socket = join(opts.dir, 'api.sock');
  const relay: ChildProcess = spawn('nsenter', [netns, process.execPath, '-e', RELAY, socket, String(PROM_PORT)], { stdio: 'ignore' });
  const relayExited = new Promise<void>((resolve) => relay.once('exit', () => resolve()));
  if (relay.pid !== undefined) opts.lab.track('the Prometheus API relay', relay.pid);
  // Open connections are tracked: fetch keeps them alive, and close() alone would wait for them.
  const open = new Set<Socket>();
  const listener: Server = createServer((c) => {
    const u = createConnection(socket);
    for (const s of [c, u]) {
      open.add(s);
      s.once('close', () => open.delete(s));
    }
    c.pipe(u);
    u.pipe(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, '127.0.0.1', () => resolve());
  });
  const address = listener.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const stopRelay = async () => {
    const closed = new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const s of open) s.destroy();
    await closed;
    if (relay.pid !== undefined && relay.exitCode === null && relay.signalCode === null) process.kill(relay.pid, 'SIGKILL');
    await relayExited;
  };
  let prom: TestPrometheus;
  try {
    prom = await TestPrometheus.start({
      binary,
      dir: opts.dir,
      ruleFiles: [RULES_FILE],
      jobs: labScrapeJobs({ lab: opts.lab, cluster: opts.cluster, etcdHosts: opts.etcdHosts, etcdTls }),
      placement: { wrap: ['nsenter', netns], listen: `127.0.0.1:${PROM_PORT}`, url: `http://127.0.0.1:${port}` },
    });
  } catch (err) {
    await stopRelay();
    throw err;
  }
  if (prom.pid !== undefined) opts.lab.track('Prometheus', prom.pid);
  return {
    prom,
    stop: async () => {
      try {
        await prom.stop();
      } finally {
        await stopRelay();
      }
    },
  };
}
