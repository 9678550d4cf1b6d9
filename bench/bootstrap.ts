/**
 * Bootstrap benchmark (issue 5): wall time of `ballastctl cluster create` on the lab topology (3
 * etcd + control-plane hosts, 2 workers), split by phase, against a plain script that starts the
 * same containerd and etcd members directly on the same hosts (the floor): binaries unpacked from the
 * same bundle, the same etcd configuration and certificates, the same rolling order (first member
 * new; each further one `etcdctl member add --learner`, started `existing`, promoted once caught up)
 * — just without an agent, a controller, persisted steps or health gates. Target: Ballast's etcd
 * phase ≤ 1.5× the floor's.
 *
 * Order: Ballast first on fresh hosts (its first create also downloads the artifacts from the
 * mirror — counted), then `cluster reset`, then the floor on the same, now clean, hosts.
 *
 *   npm run build && sudo node dist/bench/bootstrap.js [--out bench/results/bootstrap.json]
 */
import 'reflect-metadata';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { OperationDocument } from '../shared/src/ops-api.js';
import { etcdClusterToken, initialCluster, peerUrl } from '../controller/src/bootstrap/cluster-facts.js';
import { etcdMemberTls } from '../controller/src/pki/cluster-pki-files.js';
import { CONTAINERD_CONFIG_TEMPLATE, containerdUnit } from '../controller/src/roles/containerd.js';
import { etcdEnv, etcdUnit, urlHost } from '../controller/src/roles/etcd.js';
import { type BootstrapLab, setupBootstrapLab } from '../test/lab/support-bootstrap.js';
import { sleep } from '../test/lab/tool/exec.js';

const { values } = parseArgs({ options: { out: { type: 'string' }, 'max-seconds': { type: 'string', default: '1800' } } });
const maxSeconds = Number(values['max-seconds']);
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const TARGET_ETCD_RATIO = 1.5;

/** Wall time of the steps of `phase` (first start → last end), or null. */
function phaseMs(doc: OperationDocument, phase: string): number | null {
  const steps = doc.steps.filter((s) => s.phase === phase && s.startedAt !== null && s.endedAt !== null);
  if (steps.length === 0) return null;
  return Math.max(...steps.map((s) => Date.parse(s.endedAt as string))) - Math.min(...steps.map((s) => Date.parse(s.startedAt as string)));
}

async function ballast(env: BootstrapLab): Promise<{ totalMs: number; phases: Record<string, number | null> }> {
  const t0 = Date.now();
  const r = await env.lab.ctl(['cluster', 'create', '-f', env.clusterFile, '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
  const totalMs = Date.now() - t0;
  if (r.stdout.trim() === '') throw new Error(`cluster create exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as OperationDocument;
  if (doc.state !== 'succeeded') throw new Error(`cluster create ${doc.state}: ${doc.error?.message ?? ''}`);
  const phases = Object.fromEntries(['preflight', 'pki', 'hosts', 'etcd', 'vip', 'control-plane', 'workers'].map((p) => [p, phaseMs(doc, p)]));
  return { totalMs, phases };
}

/** Copies a bundle member into a host and unpacks it there (as the floor's "download"). */
async function place(env: BootstrapLab, host: string, file: string): Promise<string> {
  const stage = join(env.work, 'floor-stage');
  mkdirSync(stage, { recursive: true });
  const tmp = join(env.lab.host(host).root, 'var/tmp', file);
  copyFileSync(join(stage, file), tmp);
  return `/var/tmp/${file}`;
}

async function floor(env: BootstrapLab): Promise<{ containerdMs: number; etcdMs: number }> {
  const { lab, spec, pki } = env;
  const stage = join(env.work, 'floor-stage');
  mkdirSync(stage, { recursive: true });
  // Unpack the bundle once on this machine: the floor gets its files without a mirror.
  const { execFileSync } = await import('node:child_process');
  execFileSync('tar', ['-xf', env.bundle.path, '-C', stage]);
  const file = (name: string) => env.bundle.manifest.find((m) => m.name === name)?.file ?? '';
  const kubeHosts = spec.hosts.filter((h) => h.roles.includes('control-plane') || h.roles.includes('worker')).map((h) => h.name);

  const t0 = Date.now();
  await Promise.all(
    kubeHosts.map(async (h) => {
      const tarball = await place(env, h, file('containerd'));
      const runc = await place(env, h, file('runc'));
      const values: Record<string, string> = {
        root: '/var/lib/containerd',
        state: '/run/containerd',
        disabledPlugins: '',
        socket: '/run/containerd/containerd.sock',
        sandboxImage: 'registry.k8s.io/pause:3.9',
        runcPath: '/usr/local/sbin/runc',
        cniBinDir: '/opt/cni/bin',
        cniConfDir: '/etc/cni/net.d',
      };
      const config = CONTAINERD_CONFIG_TEMPLATE.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, key: string) => values[key] ?? '');
      const root = lab.host(h).root;
      mkdirSync(join(root, 'etc/containerd'), { recursive: true });
      writeFileSync(join(root, 'etc/containerd/config.toml'), config);
      writeFileSync(join(root, 'etc/systemd/system/containerd.service'), containerdUnit({ binDir: '/usr/local/bin', configPath: '/etc/containerd/config.toml' }));
      await lab.exec(h, ['sh', '-c', `tar -xzf ${tarball} -C /usr/local && install -m 0755 ${runc} /usr/local/sbin/runc && systemctl daemon-reload && systemctl start containerd && /usr/local/bin/ctr version >/dev/null`]);
    }),
  );
  const containerdMs = Date.now() - t0;

  const etcdHosts = spec.hosts.filter((h) => h.roles.includes('etcd')).map((h) => h.name);
  const [first] = etcdHosts;
  if (first === undefined) throw new Error('no etcd hosts');
  const ctl = ['env', 'ETCDCTL_API=3', '/usr/local/bin/etcdctl', '--endpoints', 'https://127.0.0.1:2379', '--cacert', '/etc/etcd/pki/ca.crt', '--cert', '/etc/etcd/pki/healthcheck-client.crt', '--key', '/etc/etcd/pki/healthcheck-client.key'];
  const startMember = async (name: string, members: string[]) => {
    const host = spec.hosts.find((x) => x.name === name);
    if (host === undefined) throw new Error(name);
    const tls = etcdMemberTls(pki, name);
    const root = lab.host(name).root;
    mkdirSync(join(root, 'etc/etcd/pki'), { recursive: true, mode: 0o700 });
    const put = (f: string, content: string, mode: number) => writeFileSync(join(root, 'etc/etcd/pki', f), content, { mode });
    put('ca.crt', tls.caCert, 0o644);
    put('server.crt', tls.serverCert, 0o644);
    put('server.key', tls.serverKey, 0o600);
    put('peer.crt', tls.peerCert, 0o644);
    put('peer.key', tls.peerKey, 0o600);
    put('healthcheck-client.crt', tls.clientCert, 0o644);
    put('healthcheck-client.key', tls.clientKey, 0o600);
    const vars = {
      clientPort: 2379,
      peerPort: 2380,
      metricsPort: 2381,
      dataDir: '/var/lib/etcd',
      configDir: '/etc/etcd',
      binDir: '/usr/local/bin',
      initialCluster: initialCluster(spec, members),
      initialClusterState: members.length === 1 ? ('new' as const) : ('existing' as const),
      initialClusterToken: etcdClusterToken(spec),
      tls,
      extraEnv: {},
    };
    const env = Object.entries(etcdEnv(vars, { name, host: urlHost(host.address) })).map(([k, v]) => `${k}=${v}\n`).join('');
    writeFileSync(join(root, 'etc/etcd/etcd.env'), env);
    writeFileSync(join(root, 'etc/systemd/system/etcd.service'), etcdUnit(vars));
    const tarball = await place(envOf, name, file('etcd'));
    await lab.exec(name, ['sh', '-c', `mkdir -p -m 0700 /var/lib/etcd && tar -xzf ${tarball} -C /usr/local/bin --strip-components=1 --wildcards '*/etcd' '*/etcdctl' && systemctl daemon-reload && systemctl start etcd`], { timeoutMs: 180_000 });
  };
  const envOf = env;
  const t1 = Date.now();
  await startMember(first, [first]);
  for (const [i, name] of etcdHosts.slice(1).entries()) {
    const members = etcdHosts.slice(0, i + 2);
    const host = spec.hosts.find((x) => x.name === name);
    if (host === undefined) throw new Error(name);
    // etcd refuses a member add for 5 s after a membership change ("unhealthy cluster"): retry, as an operator's script must.
    let added = '';
    let why = '';
    for (let attempt = 0; attempt < 120 && added === ''; attempt++) {
      // The simple output names the id in hex ("Member 8e9e05c52164694d added …"); JSON would lose a uint64 in a JS number.
      const r = await lab.exec(first, [...ctl, 'member', 'add', name, '--learner', `--peer-urls=${peerUrl(host)}`], { allowFail: true });
      const id = /Member ([0-9a-f]+) added/.exec(r.stdout)?.[1];
      if (r.code === 0 && id !== undefined) added = id;
      else {
        why = `${r.stdout}${r.stderr}`.trim();
        await sleep(250);
      }
    }
    if (added === '') throw new Error(`member add ${name} kept failing: ${why}`);
    await startMember(name, members);
    let promoted = false;
    let whyNot = '';
    for (let attempt = 0; attempt < 240 && !promoted; attempt++) {
      const r = await lab.exec(first, [...ctl, 'member', 'promote', added], { allowFail: true });
      promoted = r.code === 0 && /promoted/.test(r.stdout);
      if (!promoted) {
        whyNot = `${r.stdout}${r.stderr}`.trim();
        await sleep(250);
      }
    }
    if (!promoted) throw new Error(`member promote ${name} kept failing: ${whyNot}`);
  }
  await lab.exec(first, [...ctl, 'endpoint', 'health', '--cluster']);
  const etcdMs = Date.now() - t1;
  return { containerdMs, etcdMs };
}

async function main(): Promise<number> {
  const env = await setupBootstrapLab({ hosts: 5, controlPlane: 3, log });
  const watchdog = setTimeout(() => {
    log(`aborting: --max-seconds ${maxSeconds} reached`);
    void env.teardown().finally(() => process.exit(3));
  }, maxSeconds * 1000);
  try {
    log('Ballast: cluster create on fresh hosts');
    const b = await ballast(env);
    log(`Ballast: ${(b.totalMs / 1000).toFixed(1)} s; resetting the hosts`);
    const reset = await env.lab.ctl(['cluster', 'reset', 'lab', '--yes'], { timeoutMs: 600_000 });
    if (reset.code !== 0) throw new Error(`cluster reset failed: ${reset.stderr}`);
    log('floor: the same members started by a plain script');
    const f = await floor(env);
    const etcdMs = b.phases.etcd ?? null;
    const etcdRatio = etcdMs === null ? null : etcdMs / f.etcdMs;
    const report = {
      bench: 'bootstrap',
      topology: { etcdAndControlPlane: 3, workers: 2 },
      ballast: { totalMs: b.totalMs, phasesMs: b.phases },
      floor: { containerdMs: f.containerdMs, etcdMs: f.etcdMs },
      ratio: { etcd: etcdRatio },
      target: { etcdRatio: TARGET_ETCD_RATIO },
      verdict: { etcdWithinTarget: etcdRatio !== null && etcdRatio <= TARGET_ETCD_RATIO },
      note: "Ballast's hosts phase covers os-prep, containerd and kube-node on 5 hosts with artifact downloads; the floor's containerd figure covers containerd alone from local files.",
    };
    const json = `${JSON.stringify(report, null, 2)}\n`;
    if (values.out) writeFileSync(values.out, json);
    process.stdout.write(json);
    return 0;
  } finally {
    clearTimeout(watchdog);
    await env.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bootstrap bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
