/**
 * Real-Kubernetes bootstrap benchmark (issue 11): wall time of `ballastctl cluster create` on five
 * lab hosts (3 etcd + control plane behind the VIP, 2 workers; Kubernetes v1.36.3 and etcd 3.5
 * built from source) from clean hosts to five Ready nodes through the VIP, against a **floor**: a
 * plain script that does the same kubeadm and etcd steps by hand on the same hosts with the same
 * binaries, configuration and certificates — no agent, controller, persisted steps or health gates.
 *
 * How the floor gets "the same": after Ballast's run, every file Ballast installed on each host (the
 * reset role's list: binaries, units, containerd/etcd/kubelet configuration, the cluster PKI,
 * kubeadm's configs in /etc/kubernetes/ballast, the CNI plugins and config) is packed into one tar
 * per host; then `cluster reset` cleans the hosts; then the floor, timed from here on:
 *  1. every host in parallel: copy its tar in and unpack it (the fastest "install" there is), start
 *     containerd, `ctr images import` the pause image (control planes: also the control-plane
 *     images) from the same bundle files Ballast imported;
 *  2. etcd the same rolling way Ballast does it: the first member `new`, each further one
 *     `member add --learner`, started `existing`, promoted once etcd accepts it (retrying only
 *     etcd's transient refusals every 100 ms);
 *  3. the VIP on the first host by hand (`ip addr add`), `kubeadm init --config` there, then
 *     `kubeadm join --config` on the other control planes one at a time and on the workers one at a
 *     time (Ballast's `rollout.workerBatch: 1` in the lab's cluster.yaml);
 *  4. until `kubectl get nodes` through the VIP shows five Ready nodes.
 * Ballast's figure counts its artifact downloads, os-prep, preflight and PKI; the floor has none of
 * those. Targets: Ballast ≤ 1.3× the floor end to end, and under 3 minutes.
 *
 *   npm run build && node dist/bench/kube-bootstrap.js [--out bench/results/kube-bootstrap.json] [--max-seconds N]
 *
 * Root, and the source builds in the cache (bash scripts/upstream/build.sh).
 */
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { benchArgs } from './lib/args.js';
import { initialCluster, peerUrl } from '../controller/src/bootstrap/cluster-facts.js';
import { RESET_BINARIES, RESET_DIRECTORIES, RESET_FILES } from '../controller/src/roles/reset.js';
import type { OperationDocument } from '../shared/src/ops-api.js';
import { type KubeLab, setupKubeLab } from '../test/lab/support-kube.js';
import { sleep } from '../test/lab/tool/exec.js';
import { phaseSpans, type StepTiming, stepTimings } from './lib/op-timings.js';
import { LOCAL_ETCDCTL, MEMBER_CHANGE, runBench, runOnLab, untilAccepted } from './lib/etcd-floor.js';
import { KUBE_VIP, kubectl } from '../test/lab/tool/kube-cluster.js';

const USAGE = `usage: node dist/bench/kube-bootstrap.js [--out FILE] [--max-seconds N]

Real \`cluster create\` on five lab hosts (3 etcd + control plane, 2 workers) against a by-hand floor
on the same hosts; JSON on stdout, progress on stderr. Root; needs the source builds in the cache
(bash scripts/upstream/build.sh). Takes the lab lock's resources: run it alone.

  --out FILE         also write the JSON document to FILE
  --max-seconds N    hard bound on the whole run (default 2400)`;

const { values } = benchArgs(USAGE, { options: { out: { type: 'string' }, 'max-seconds': { type: 'string', default: '2400' } } });
const maxSeconds = Number(values['max-seconds']);
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const TARGET_RATIO = 1.3;
const TARGET_SECONDS = 180;
const FLOOR_RETRY_MS = 100;
const FLOOR_RETRY_LIMIT_MS = 60_000;

/**
 * What Ballast installed on a host and the floor puts back: the reset role's lists, without
 * runtime data (/var/lib/*), kubeadm's outputs in /etc/kubernetes (only the PKI and Ballast's
 * kubeadm configs) and the VIP's election config (the floor holds the VIP by hand).
 */
const CAPTURE = [
  ...RESET_BINARIES,
  ...RESET_FILES.filter((f) => f.startsWith('/etc/systemd/system/') || f === '/etc/crictl.yaml'),
  ...RESET_DIRECTORIES.filter((d) => !d.startsWith('/var/lib/') && d !== '/etc/kubernetes' && d !== '/etc/ballast/vip'),
  '/etc/kubernetes/pki',
  '/etc/kubernetes/ballast/kubeadm-init.yaml',
  '/etc/kubernetes/ballast/kubeadm-join.yaml',
];

type Timeline = Record<string, number>;

/** Five Ready nodes through the VIP (kubectl from the client namespace), polled every 250 ms. */
async function untilReady(env: KubeLab, kubeconfig: string, n: number, deadlineMs: number): Promise<void> {
  for (;;) {
    const r = await kubectl(env.lab, kubeconfig, ['get', 'nodes', '-o', 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}'], { allowFail: true, timeoutMs: 15_000 });
    if (r.code === 0 && r.stdout.split('\n').filter((l) => l === 'True').length >= n) return;
    if (Date.now() > deadlineMs) throw new Error(`fewer than ${n} Ready nodes through the VIP: ${r.stdout}${r.stderr}`);
    await sleep(250);
  }
}

async function ballast(
  env: KubeLab,
  kubeconfig: string,
): Promise<{ createMs: number; readyMs: number; phasesMs: Record<string, number | null>; steps: StepTiming[] }> {
  const t0 = Date.now();
  const r = await env.lab.ctl(['cluster', 'create', '-f', env.clusterFile, '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
  const createMs = Date.now() - t0;
  if (r.stdout.trim() === '') throw new Error(`cluster create exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as OperationDocument;
  if (doc.state !== 'succeeded') throw new Error(`cluster create ${doc.state}: ${doc.error?.message ?? ''}`);
  // Not timed: a kubeconfig to watch the nodes with (the floor uses kubeadm's admin.conf instead).
  const kcfg = await env.lab.ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '2h'], { timeoutMs: 30_000 });
  writeFileSync(kubeconfig, kcfg.stdout, { mode: 0o600 });
  await untilReady(env, kubeconfig, env.hosts.length, Date.now() + 300_000);
  const readyMs = Date.now() - t0;
  const phasesMs = phaseSpans(doc, ['preflight', 'pki', 'hosts', 'etcd', 'vip', 'control-plane', 'workers']);
  return { createMs, readyMs, phasesMs, steps: (await stepTimings(env.lab, doc)).map(({ tasks: _tasks, ...rest }) => rest) };
}

/** Packs what Ballast installed on each host into WORK/capture/HOST.tar. */
async function capture(env: KubeLab): Promise<void> {
  mkdirSync(join(env.work, 'capture'), { recursive: true });
  for (const h of env.hosts) {
    // A worker's kubeadm join writes the CA itself (and refuses to run when ca.crt exists): as Ballast's kube-worker role knows.
    const paths = env.controlPlane.includes(h) ? CAPTURE : CAPTURE.filter((p) => p !== '/etc/kubernetes/pki');
    await env.lab.exec(h, ['sh', '-c', 'ls -d "$@" 2>/dev/null | tar -cf /var/tmp/floor.tar -T -', 'sh', ...paths]);
    copyFileSync(join(env.lab.host(h).root, 'var/tmp/floor.tar'), join(env.work, 'capture', `${h}.tar`));
  }
}

async function floor(env: KubeLab, kubeconfig: string): Promise<{ totalMs: number; timeline: Timeline }> {
  const { lab, spec } = env;
  const stage = join(env.work, 'bundle');
  mkdirSync(stage, { recursive: true });
  execFileSync('tar', ['-xf', env.bundle.path, '-C', stage]);
  const imageFile = (name: string) => {
    const m = env.bundle.manifest.find((a) => a.name === name);
    if (m === undefined) throw new Error(`the lab bundle has no ${name}`);
    return m.file;
  };
  const cpImages = ['image-kube-apiserver', 'image-kube-controller-manager', 'image-kube-scheduler'].map(imageFile);
  const pause = imageFile('image-pause');
  const [first, ...others] = env.controlPlane;
  if (first === undefined) throw new Error('no control plane');
  const workers = env.hosts.filter((h) => !env.controlPlane.includes(h));

  const t0 = Date.now();
  const timeline: Timeline = {};
  const mark = (event: string) => {
    timeline[event] = Date.now() - t0;
  };
  // 1. Install: each host's files from its tar, containerd started, images imported.
  await Promise.all(
    env.hosts.map(async (h) => {
      const root = lab.host(h).root;
      copyFileSync(join(env.work, 'capture', `${h}.tar`), join(root, 'var/tmp/floor.tar'));
      const images = env.controlPlane.includes(h) ? [pause, ...cpImages] : [pause];
      for (const f of images) copyFileSync(join(stage, f), join(root, 'var/tmp', basename(f)));
      const imports = images.map((f) => `/usr/local/bin/ctr -n k8s.io images import --platform linux/amd64 /var/tmp/${basename(f)} >/dev/null`).join(' && ');
      await lab.exec(h, ['sh', '-c', `tar -xf /var/tmp/floor.tar -C / && install -d -m 0700 /var/lib/etcd /var/lib/etcd/member && systemctl daemon-reload && systemctl start containerd && ${imports}`], { timeoutMs: 300_000 });
      mark(`${h} installed`);
    }),
  );
  mark('installed');

  // 2. etcd, rolling: the env file's initial cluster is the members so far, the first one `new`.
  const ctl = LOCAL_ETCDCTL;
  const etcdHosts = spec.hosts.filter((h) => h.roles.includes('etcd')).map((h) => h.name);
  const startMember = async (name: string, members: string[]) => {
    const envFile = join(lab.host(name).root, 'etc/etcd/etcd.env');
    const state = members.length === 1 ? 'new' : 'existing';
    const text = readFileSync(envFile, 'utf8')
      .replace(/^ETCD_INITIAL_CLUSTER=.*$/m, `ETCD_INITIAL_CLUSTER=${initialCluster(spec, members)}`)
      .replace(/^ETCD_INITIAL_CLUSTER_STATE=.*$/m, `ETCD_INITIAL_CLUSTER_STATE=${state}`);
    writeFileSync(envFile, text);
    await lab.exec(name, ['systemctl', 'start', 'etcd'], { timeoutMs: 180_000 });
  };
  const change = (what: string, argv: string[], kind: keyof typeof MEMBER_CHANGE) =>
    untilAccepted(what, argv, MEMBER_CHANGE[kind], {
      exec: (a) => lab.exec(etcdHosts[0] as string, a, { allowFail: true }),
      retryMs: FLOOR_RETRY_MS,
      limitMs: FLOOR_RETRY_LIMIT_MS,
    });
  await startMember(etcdHosts[0] as string, etcdHosts.slice(0, 1));
  for (const [i, name] of etcdHosts.entries()) {
    if (i === 0) continue;
    const host = spec.hosts.find((x) => x.name === name);
    if (host === undefined) throw new Error(name);
    const { id } = await change(`member add ${name}`, [...ctl, 'member', 'add', name, '--learner', `--peer-urls=${peerUrl(host)}`], 'add');
    await startMember(name, etcdHosts.slice(0, i + 1));
    await change(`member promote ${name}`, [...ctl, 'member', 'promote', id], 'promote');
  }
  mark('etcd');

  // 3. The VIP by hand on the first control plane, kubeadm init there, then the joins one at a time.
  await lab.exec(first, ['ip', 'addr', 'add', `${KUBE_VIP}/32`, 'dev', 'eth0']);
  await lab.exec(first, ['kubeadm', 'init', '--config', '/etc/kubernetes/ballast/kubeadm-init.yaml'], { timeoutMs: 600_000 });
  mark('init');
  for (const h of [...others, ...workers]) {
    await lab.exec(h, ['kubeadm', 'join', '--config', '/etc/kubernetes/ballast/kubeadm-join.yaml'], { timeoutMs: 600_000 });
    mark(`${h} joined`);
  }
  // 4. Five Ready nodes, seen through the VIP with kubeadm's admin.conf (its server is the VIP).
  copyFileSync(join(lab.host(first).root, 'etc/kubernetes/admin.conf'), kubeconfig);
  await untilReady(env, kubeconfig, env.hosts.length, Date.now() + 300_000);
  mark('ready');
  return { totalMs: Date.now() - t0, timeline };
}

async function main(): Promise<number> {
  const env = await setupKubeLab({ hosts: 5, controlPlane: 3, log });
  return runOnLab(env, { maxSeconds, out: values.out, log }, async () => {
    log('Ballast: cluster create on fresh hosts');
    const b = await ballast(env, join(env.work, 'ballast.conf'));
    log(`Ballast: create ${(b.createMs / 1000).toFixed(1)} s, 5 Ready ${(b.readyMs / 1000).toFixed(1)} s; capturing the installed files, then cluster reset`);
    await capture(env);
    const reset = await env.lab.ctl(['cluster', 'reset', 'lab', '--yes'], { timeoutMs: 600_000, allowFail: true });
    if (reset.code !== 0) throw new Error(`cluster reset failed: ${reset.stderr}`);
    log('floor: the same kubeadm and etcd steps by hand');
    const f = await floor(env, join(env.work, 'floor.conf'));
    log(`floor: ${(f.totalMs / 1000).toFixed(1)} s ${JSON.stringify(f.timeline)}`);
    const ratio = b.readyMs / f.totalMs;
    const report = {
      bench: 'kube-bootstrap',
      at: new Date().toISOString(),
      topology: { etcdAndControlPlane: 3, workers: 2, kubernetes: env.bundle.versions.kubernetes },
      target: { ratio: TARGET_RATIO, seconds: TARGET_SECONDS },
      ballast: b,
      floor: f,
      ratio,
      verdict: { ratioWithinTarget: ratio <= TARGET_RATIO, underTargetSeconds: b.readyMs / 1000 <= TARGET_SECONDS },
      note: "Both figures run from clean hosts to 5 Ready nodes through the VIP. Ballast's includes artifact downloads from its mirror, preflight, PKI, os-prep and its health gates; the floor unpacks one local tar per host of exactly the files Ballast installed, then runs the same etcd membership steps and kubeadm init/join commands with Ballast's configs.",
    };
    return report;
  });
}

runBench('kube-bootstrap', main);
