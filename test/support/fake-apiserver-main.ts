/**
 * The fake kube-apiserver (fake-apiserver.ts) as a process, for lab tests: kube-apiserver cannot be
 * installed or run on the machines these tests run on, so the lab runs this in the controller's
 * network namespace and the kubelet stand-in on each control-plane host forwards :6443 to it.
 *
 *   node dist/test/support/fake-apiserver-main.js --listen 198.18.0.2:16443 \
 *     --tls-cert-file serving.crt --tls-private-key-file serving.key --client-ca-file ca.crt \
 *     [--bootstrap-token abcdef.0123456789abcdef]... [--cluster-info-server https://VIP:6443] \
 *     [--state-file state.json] [--git-version v1.36.3]
 *
 * The flag names are kube-apiserver's where it has one. Client certificates signed by the client CA
 * may do everything; bootstrap tokens may register and heartbeat Nodes (fake-apiserver-auth.ts).
 * `--cluster-info-server` publishes kube-public/cluster-info with that server and the client CA
 * (the cluster CA), for kubeadm's token discovery. Every request is logged to stdout as one line:
 * `<time> <method> <path>[?query] <user|-> <status>`. The state file is rewritten (atomically,
 * shortly after every request) with `{ url, pid, objects, requests }`. SIGTERM or SIGINT stops it
 * and writes the state one last time.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { type FakeApiServer, type LoggedRequest, startFakeApiServer } from './fake-apiserver.js';

const USAGE =
  'usage: fake-apiserver-main --listen HOST:PORT --tls-cert-file F --tls-private-key-file F --client-ca-file F ' +
  '[--bootstrap-token T]... [--cluster-info-server URL] [--state-file F] [--git-version V]';

function fail(message: string): never {
  process.stderr.write(`fake-apiserver: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string' },
      'tls-cert-file': { type: 'string' },
      'tls-private-key-file': { type: 'string' },
      'client-ca-file': { type: 'string' },
      'bootstrap-token': { type: 'string', multiple: true },
      'cluster-info-server': { type: 'string' },
      'state-file': { type: 'string' },
      'git-version': { type: 'string' },
    },
    strict: true,
  });
  const listen = /^(.+):([0-9]{1,5})$/.exec(values.listen ?? '');
  if (listen === null) fail('--listen HOST:PORT is required');
  const file = (flag: 'tls-cert-file' | 'tls-private-key-file' | 'client-ca-file'): string => {
    const path = values[flag];
    if (path === undefined) fail(`--${flag} is required`);
    try {
      return readFileSync(path, 'utf8');
    } catch (err) {
      return fail(`failed to read --${flag} ${path}: ${(err as Error).message}`);
    }
  };
  const clientCaPem = file('client-ca-file');
  const stateFile = values['state-file'];
  const requests: LoggedRequest[] = [];
  let fake: FakeApiServer | undefined;
  let pending: NodeJS.Timeout | undefined;

  const writeState = () => {
    pending = undefined;
    if (stateFile === undefined || fake === undefined) return;
    const tmp = `${stateFile}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ url: fake.url, pid: process.pid, objects: fake.dump(), requests }, null, 2)}\n`);
    renameSync(tmp, stateFile);
  };

  try {
    fake = await startFakeApiServer({
      clientCaPem,
      serving: { certPem: file('tls-cert-file'), keyPem: file('tls-private-key-file') },
      listen: { host: listen[1]!.replace(/^\[(.*)\]$/, '$1'), port: Number(listen[2]) },
      bootstrapTokens: values['bootstrap-token'] ?? [],
      ...(values['cluster-info-server'] === undefined ? {} : { clusterInfo: { server: values['cluster-info-server'], caPem: clientCaPem } }),
      ...(values['git-version'] === undefined ? {} : { gitVersion: values['git-version'] }),
      onRequest(r) {
        requests.push(r);
        process.stdout.write(`${new Date().toISOString()} ${r.method} ${r.path}${r.query} ${r.user ?? '-'} ${r.status}\n`);
        pending ??= setTimeout(writeState, 100);
      },
    });
  } catch (err) {
    fail(`failed to start: ${(err as Error).message}`);
  }
  writeState();
  process.stdout.write(`fake-apiserver listening on ${fake.url} (pid ${process.pid})\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`fake-apiserver stopping (${signal})\n`);
    if (pending !== undefined) clearTimeout(pending);
    writeState();
    void fake?.close().then(() => process.exit(0));
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

await main();
