/**
 * Helpers for lab tests that run the fake kube-apiserver as a process (fake-apiserver-main.ts),
 * e.g. in the lab controller's network namespace, because no real kube-apiserver can run on the
 * machines these tests run on: its PKI as files, the compiled entry point, start, state and stop
 * (by PID, and only the very process started: pid plus start time).
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createCa, issueClientCert, issueServerCert, type KeyPair } from '../../controller/src/pki/ca.js';
import { run, sleep, waitUntil } from '../lab/tool/exec.js';
import { isAlive, type ProcRef, procRef, signal } from '../lab/tool/proc.js';
import type { LoggedRequest } from './fake-apiserver.js';

/** The repository root, from the source tree or from dist/. */
export const REPO_ROOT = resolve(import.meta.dirname, '../..').replace(/\/dist$/, '');
/** The compiled entry point, run with plain `node`. */
export const FAKE_APISERVER_MAIN = join(REPO_ROOT, 'dist/test/support/fake-apiserver-main.js');
const SOURCES = ['fake-apiserver.ts', 'fake-apiserver-store.ts', 'fake-apiserver-auth.ts', 'fake-apiserver-main.ts'].map((f) => join(REPO_ROOT, 'test/support', f));

/** The cluster CA, the fake's serving pair and the controller's admin client pair, in memory and as files. */
export interface FakeApiServerPki {
  ca: KeyPair;
  serving: KeyPair;
  admin: KeyPair;
  files: { caCert: string; servingCert: string; servingKey: string };
}

/**
 * A fresh Kubernetes CA (as the controller's `createCa` makes it), a serving certificate for the
 * fake valid for `ipAddresses` (every address clients dial: the controller-netns listen address,
 * the VIP, each control plane forwarding :6443) and `kubernetes`/`localhost`, and a
 * `kubernetes-admin` client pair; written to `dir` (keys 0600).
 */
export async function createFakeApiServerPki(dir: string, opts: { ipAddresses: string[]; dnsNames?: string[] }): Promise<FakeApiServerPki> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await createCa({ commonName: 'kubernetes', validityDays: 7 });
  const serving = await issueServerCert({
    ca,
    commonName: 'kube-apiserver',
    dnsNames: [...new Set(['kubernetes', 'kubernetes.default', 'localhost', ...(opts.dnsNames ?? [])])],
    ipAddresses: [...new Set(['127.0.0.1', ...opts.ipAddresses])],
    validityDays: 7,
  });
  const admin = await issueClientCert({ ca, commonName: 'kubernetes-admin', validityDays: 7 });
  const files = { caCert: join(dir, 'ca.crt'), servingCert: join(dir, 'apiserver.crt'), servingKey: join(dir, 'apiserver.key') };
  writeFileSync(files.caCert, ca.certPem, { mode: 0o644 });
  writeFileSync(files.servingCert, serving.certPem, { mode: 0o644 });
  writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
  return { ca, serving, admin, files };
}

/**
 * Makes sure {@link FAKE_APISERVER_MAIN} exists and is newer than its sources. `npm run build`
 * compiles it once tsconfig.build.json includes test/support; until then (or when stale) this
 * compiles just the fake's files into dist/ with the repo's tsc (~10 s).
 */
export async function ensureFakeApiServerBuilt(log: (msg: string) => void = () => {}): Promise<string> {
  const built = existsSync(FAKE_APISERVER_MAIN) ? statSync(FAKE_APISERVER_MAIN).mtimeMs : 0;
  if (SOURCES.every((s) => statSync(s).mtimeMs <= built)) return FAKE_APISERVER_MAIN;
  log(`compiling ${FAKE_APISERVER_MAIN}`);
  const dir = mkdtempSync(join(tmpdir(), 'ballast-fake-apiserver-tsc-'));
  try {
    const tsconfig = join(dir, 'tsconfig.json');
    writeFileSync(
      tsconfig,
      JSON.stringify({
        extends: join(REPO_ROOT, 'tsconfig.json'),
        compilerOptions: { noEmit: false, outDir: join(REPO_ROOT, 'dist'), rootDir: REPO_ROOT, typeRoots: [join(REPO_ROOT, 'node_modules/@types')] },
        files: [join(REPO_ROOT, 'test/support/fake-apiserver-main.ts')],
        include: [],
      }),
    );
    await run([process.execPath, join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { timeoutMs: 180_000, cwd: REPO_ROOT });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return FAKE_APISERVER_MAIN;
}

/** What the state file holds. */
export interface FakeApiServerState {
  url: string;
  pid: number;
  objects: Array<Record<string, unknown>>;
  requests: LoggedRequest[];
}

/** A running fake API server process. */
export interface FakeApiServerProcess {
  proc: ProcRef;
  /** `https://<listen>`. */
  url: string;
  stateFile: string;
  logFile: string;
  /** The state file as last written (a moment after the last request). */
  state(): FakeApiServerState;
  /** The Node objects in the state file. */
  nodes(): Array<Record<string, unknown>>;
  /** SIGTERM, then SIGKILL after 5 s; only this very process. Safe to call twice. */
  stop(): Promise<void>;
}

/** Options of {@link startFakeApiServerProcess}. */
export interface StartFakeApiServerOptions {
  /** Where the state file and log go. */
  dir: string;
  /** `198.18.0.2:16443`. */
  listen: string;
  /** Run inside this network namespace (`nsenter --net=/run/netns/<netns>`), e.g. the lab's `bl-ctl`. */
  netns?: string;
  pki: FakeApiServerPki;
  bootstrapTokens?: string[];
  /** Publishes kube-public/cluster-info naming this server (`https://<vip>:6443`) for kubeadm's discovery. */
  clusterInfoServer?: string;
  gitVersion?: string;
  log?: (msg: string) => void;
}

/** Compiles if needed, starts the fake and waits until it listens (10 s at most). */
export async function startFakeApiServerProcess(opts: StartFakeApiServerOptions): Promise<FakeApiServerProcess> {
  const main = await ensureFakeApiServerBuilt(opts.log);
  mkdirSync(opts.dir, { recursive: true });
  const stateFile = join(opts.dir, 'fake-apiserver.state.json');
  const logFile = join(opts.dir, 'fake-apiserver.log');
  rmSync(stateFile, { force: true });
  const { files } = opts.pki;
  const args = [
    main,
    '--listen',
    opts.listen,
    '--tls-cert-file',
    files.servingCert,
    '--tls-private-key-file',
    files.servingKey,
    '--client-ca-file',
    files.caCert,
    '--state-file',
    stateFile,
    ...(opts.bootstrapTokens ?? []).flatMap((t) => ['--bootstrap-token', t]),
    ...(opts.clusterInfoServer === undefined ? [] : ['--cluster-info-server', opts.clusterInfoServer]),
    ...(opts.gitVersion === undefined ? [] : ['--git-version', opts.gitVersion]),
  ];
  const fd = openSync(logFile, 'a');
  // nsenter execs node: the pid is the fake's own.
  const argv = opts.netns === undefined ? [process.execPath, ...args] : ['nsenter', `--net=/run/netns/${opts.netns}`, process.execPath, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: REPO_ROOT });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error('failed to start the fake API server: no pid');
  const proc = procRef(child.pid);
  const stop = async () => {
    if (!isAlive(proc)) return;
    signal(proc, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (isAlive(proc) && Date.now() < deadline) await sleep(50);
    if (isAlive(proc)) signal(proc, 'SIGKILL');
  };
  try {
    await waitUntil(
      'the fake API server to listen',
      async () => {
        const text = readFileSync(logFile, 'utf8');
        if (/fake-apiserver listening on /.test(text) && existsSync(stateFile)) return true;
        if (!isAlive(proc)) throw new Error(`the fake API server exited: ${text.trim().split('\n').slice(-5).join('\n')}`);
        return undefined;
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  opts.log?.(`fake API server pid ${proc.pid} on https://${opts.listen}${opts.netns === undefined ? '' : ` in netns ${opts.netns}`}`);
  const state = () => JSON.parse(readFileSync(stateFile, 'utf8')) as FakeApiServerState;
  return {
    proc,
    url: `https://${opts.listen}`,
    stateFile,
    logFile,
    state,
    nodes: () => state().objects.filter((o) => o.kind === 'Node'),
    stop,
  };
}

/**
 * The text of /etc/kubernetes/standin.env, which the kubelet stand-in sources: where its
 * kube-apiserver "static pod" forwards to, and optional knobs (see test/support/standin/kubelet).
 */
export function standinEnv(opts: { fakeApiServer: string; nodeReady?: boolean; heartbeatSeconds?: number }): string {
  const lines = [
    '# Read by the Ballast kubelet stand-in (test/support/standin/kubelet), written by the lab test.',
    `FAKE_APISERVER=${opts.fakeApiServer}`,
    ...(opts.nodeReady === undefined ? [] : [`BALLAST_STANDIN_NODE_READY=${opts.nodeReady}`]),
    ...(opts.heartbeatSeconds === undefined ? [] : [`BALLAST_STANDIN_HEARTBEAT_SECONDS=${opts.heartbeatSeconds}`]),
  ];
  return `${lines.join('\n')}\n`;
}
