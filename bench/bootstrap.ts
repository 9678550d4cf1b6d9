/**
 * Bootstrap benchmark (issue 5): wall time of `ballastctl cluster create` on the lab topology (3
 * etcd + control-plane hosts, 2 workers), split by phase, against a plain script that starts the
 * same containerd and etcd members directly on the same hosts (the floor): binaries unpacked from the
 * same bundle, the same etcd configuration and certificates, the same rolling order (first member
 * new; each further one `etcdctl member add --learner`, started `existing`, promoted once caught up)
 * — just without an agent, a controller, persisted steps or health gates. Like an operator's script,
 * the floor stages the members' files and binaries in the background, one member after the other
 * (the initial cluster of each member is known up front), and retries a membership change only while etcd refuses it for a
 * reason that passes by itself — above all "unhealthy cluster": etcd 3.4's strict reconfig check
 * refuses the next `member add` until every voter has been connected for 5 s, so the third member
 * can be added only ~5 s after the second one started. Target: Ballast's etcd phase ≤ 1.5× the floor's.
 *
 * Order: Ballast first on fresh hosts (its first create also downloads the artifacts from the
 * mirror — counted), then `cluster reset`, then the floor on the same, now clean, hosts.
 *
 *   npm run build && sudo node dist/bench/bootstrap.js [--out bench/results/bootstrap.json [--append]] [--max-seconds N] [--journals DIR]
 *
 * With --append the run is added to the runs already in --out.
 */
import 'reflect-metadata';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OperationDocument } from '../shared/src/ops-api.js';
import { etcdClusterToken, initialCluster, peerUrl } from '../controller/src/bootstrap/cluster-facts.js';
import { etcdMemberTls } from '../controller/src/pki/cluster-pki-files.js';
import { CONTAINERD_CONFIG_TEMPLATE, containerdUnit } from '../controller/src/roles/containerd.js';
import { DEFAULT_SANDBOX_IMAGE } from '../controller/src/roles/images.js';
import { etcdEnv, etcdUnit, urlHost } from '../controller/src/roles/etcd.js';
import { type BootstrapLab, setupBootstrapLab } from '../test/lab/support-bootstrap.js';
import { benchArgs } from './lib/args.js';
import { LOCAL_ETCDCTL, MEMBER_CHANGE, runBench, runOnLab, untilAccepted } from './lib/etcd-floor.js';

const USAGE = `usage: node dist/bench/bootstrap.js [--out FILE [--append]] [--max-seconds N] [--journals DIR]

Wall time of \`ballastctl cluster create\` on five lab hosts (3 etcd + control plane, 2 workers),
by phase, against a script that starts the same containerd and etcd members by hand (root; takes
the lab's resources: run it alone). JSON on stdout, progress on stderr.

  --out FILE        also write the JSON document to FILE (--append: add this run to its runs)
  --max-seconds N   hard bound on the whole run (default 1800)
  --journals DIR    save the hosts' journals into DIR`;

const { values } = benchArgs(USAGE, {
  options: { out: { type: 'string' }, append: { type: 'boolean', default: false }, 'max-seconds': { type: 'string', default: '1800' }, journals: { type: 'string' } },
});
const maxSeconds = Number(values['max-seconds']);
const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);
const TARGET_ETCD_RATIO = 1.5;
/** The floor's poll while etcd refuses a membership change for now, and how long it keeps trying. */
const FLOOR_RETRY_MS = 100;
const FLOOR_RETRY_LIMIT_MS = 60_000;

/** Wall time of the steps of `phase` (first start → last end), or null. */
function phaseMs(doc: OperationDocument, phase: string): number | null {
  const steps = doc.steps.filter((s) => s.phase === phase && s.startedAt !== null && s.endedAt !== null);
  if (steps.length === 0) return null;
  return Math.max(...steps.map((s) => Date.parse(s.endedAt as string))) - Math.min(...steps.map((s) => Date.parse(s.startedAt as string)));
}

async function ballast(env: BootstrapLab): Promise<{ totalMs: number; phases: Record<string, number | null>; etcdStepsMs: Record<string, number | null> }> {
  const t0 = Date.now();
  const r = await env.lab.ctl(['cluster', 'create', '-f', env.clusterFile, '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
  const totalMs = Date.now() - t0;
  if (r.stdout.trim() === '') throw new Error(`cluster create exited ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as OperationDocument;
  if (doc.state !== 'succeeded') throw new Error(`cluster create ${doc.state}: ${doc.error?.message ?? ''}`);
  const phases = Object.fromEntries(['preflight', 'pki', 'hosts', 'etcd', 'vip', 'control-plane', 'workers'].map((p) => [p, phaseMs(doc, p)]));
  // Where the etcd phase spends its time: each step's own duration, in plan order — with the
  // install of every member (hosts phase, in parallel with nothing else) for the stricter ratio.
  const etcdStepsMs = Object.fromEntries(
    doc.steps
      .filter((s) => s.phase === 'etcd' || s.key === 'etcd-install')
      .map((s) => [s.key, s.startedAt !== null && s.endedAt !== null ? Date.parse(s.endedAt) - Date.parse(s.startedAt) : null]),
  );
  return { totalMs, phases, etcdStepsMs };
}

/** Copies a bundle member into a host and unpacks it there (as the floor's "download"). */
async function place(env: BootstrapLab, host: string, file: string): Promise<string> {
  const stage = join(env.work, 'floor-stage');
  mkdirSync(stage, { recursive: true });
  const tmp = join(env.lab.host(host).root, 'var/tmp', file);
  copyFileSync(join(stage, file), tmp);
  return `/var/tmp/${file}`;
}

/** On a floor failure: membership, status and the tail of each member's etcd journal. */
async function etcdDiagnostics(env: BootstrapLab, hosts: string[], ctl: string[]): Promise<void> {
  for (const h of hosts) {
    for (const argv of [
      [...ctl, 'member', 'list', '-w', 'table'],
      [...ctl, 'endpoint', 'status', '-w', 'table'],
      ['sh', '-c', 'systemctl is-active etcd; cat /etc/etcd/etcd.env; journalctl -u etcd --no-pager | tail -60'],
    ]) {
      const r = await env.lab.exec(h, argv, { allowFail: true });
      log(`diag ${h} ${argv.slice(-3).join(' ')}:\n${r.stdout}${r.stderr}`);
    }
  }
}

async function floor(env: BootstrapLab): Promise<{ containerdMs: number; etcdMs: number; etcdTimelineMs: Record<string, number> }> {
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
        sandboxImage: DEFAULT_SANDBOX_IMAGE,
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
  // Not timed: the reset must have left no etcd data behind, or a member would start with an old identity.
  for (const h of etcdHosts) {
    const r = await lab.exec(h, ['sh', '-c', 'test ! -e /var/lib/etcd || test -z "$(ls -A /var/lib/etcd)"'], { allowFail: true });
    if (r.code !== 0) throw new Error(`${h}: /var/lib/etcd is not empty after cluster reset`);
  }
  const ctl = LOCAL_ETCDCTL;
  /** TLS files, env file, unit and binaries of `name`, whose initial cluster is `members` (itself last): everything but the start. */
  const stageMember = async (name: string, members: string[]) => {
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
      start: true,
      requireData: false,
      prepareMember: true,
    };
    const envFile = Object.entries(etcdEnv(vars, { name, host: urlHost(host.address) })).map(([k, v]) => `${k}=${v}\n`).join('');
    writeFileSync(join(root, 'etc/etcd/etcd.env'), envFile);
    writeFileSync(join(root, 'etc/systemd/system/etcd.service'), etcdUnit(vars));
    const tarball = await place(env, name, file('etcd'));
    await lab.exec(name, ['sh', '-c', `mkdir -p -m 0700 /var/lib/etcd /var/lib/etcd/member && tar -xzf ${tarball} -C /usr/local/bin --strip-components=1 --wildcards '*/etcd' '*/etcdctl' && systemctl daemon-reload`]);
  };
  // Type=notify: returns once etcd is ready (for a joining member: once it has published itself through the leader).
  const startEtcd = (name: string) => lab.exec(name, ['systemctl', 'start', 'etcd'], { timeoutMs: 180_000 });
  /** A membership change on the first member until etcd accepts it (each refusal logged once, with how long it held the change up). */
  const change = async (what: string, argv: string[], kind: keyof typeof MEMBER_CHANGE): Promise<string> => {
    const r = await untilAccepted(what, argv, MEMBER_CHANGE[kind], {
      exec: (a) => lab.exec(first, a, { allowFail: true }),
      retryMs: FLOOR_RETRY_MS,
      limitMs: FLOOR_RETRY_LIMIT_MS,
      onRefused: (reason) => log(`floor: ${what}: etcd refused, retrying every ${FLOOR_RETRY_MS} ms: ${reason}`),
      onGiveUp: () => etcdDiagnostics(env, etcdHosts, ctl),
    });
    if (r.lastRefusal !== '') log(`floor: ${what}: accepted after ${r.heldMs} ms of "${r.lastRefusal}"`);
    return r.id;
  };

  const t1 = Date.now();
  const timeline: Record<string, number> = {};
  const mark = (event: string) => {
    timeline[event] = Date.now() - t1;
  };
  // Each member's files are staged one member after the other in the background (its initial cluster
  // is known up front: the members up to and including it, in spec order), so staging the next member
  // overlaps etcd's work and waits instead of adding to them; a member starts once its files are in place.
  // One at a time, not all at once: on a small machine parallel unpacking slows the first member down.
  const staged = new Map<string, Promise<void>>();
  let previous: Promise<void> = Promise.resolve();
  for (const [i, name] of etcdHosts.entries()) {
    previous = previous.then(async () => {
      await stageMember(name, etcdHosts.slice(0, i + 1));
      mark(`${name} staged`);
    });
    staged.set(name, previous);
  }
  // Surfaced where each is awaited; this keeps a failure after an earlier throw from going unhandled.
  for (const p of staged.values()) p.catch(() => undefined);
  await staged.get(first);
  await startEtcd(first);
  mark(`${first} started`);
  for (const name of etcdHosts.slice(1)) {
    const host = spec.hosts.find((x) => x.name === name);
    if (host === undefined) throw new Error(name);
    // The simple output names the id in hex ("Member 8e9e05c52164694d added …"); JSON would lose a uint64 in a JS number.
    // "unhealthy cluster": etcd's strict reconfig check refuses a change until every voter has been connected for 5 s.
    const id = await change(`member add ${name}`, [...ctl, 'member', 'add', name, '--learner', `--peer-urls=${peerUrl(host)}`], 'add');
    mark(`${name} added`);
    await staged.get(name);
    await startEtcd(name);
    mark(`${name} started`);
    // Refused until the learner's log is within 90 % of the leader's.
    await change(`member promote ${name}`, [...ctl, 'member', 'promote', id], 'promote');
    mark(`${name} promoted`);
  }
  await lab.exec(first, [...ctl, 'endpoint', 'health', '--cluster']);
  mark('healthy');
  const etcdMs = Date.now() - t1;
  log(`floor: etcd timeline (ms): ${JSON.stringify(timeline)}`);
  return { containerdMs, etcdMs, etcdTimelineMs: timeline };
}

async function main(): Promise<number> {
  const env = await setupBootstrapLab({ hosts: 5, controlPlane: 3, log });
  return runOnLab(env, { maxSeconds, out: values.out, log }, async () => {
    log('Ballast: cluster create on fresh hosts');
    const b = await ballast(env);
    // Where a step's time went, host by host (the controller only knows when each run started and ended).
    if (values.journals) await env.lab.saveJournals(values.journals, env.spec.hosts.map((x) => x.name));
    log(`Ballast: ${(b.totalMs / 1000).toFixed(1)} s; resetting the hosts`);
    const reset = await env.lab.ctl(['cluster', 'reset', 'lab', '--yes'], { timeoutMs: 600_000 });
    if (reset.code !== 0) throw new Error(`cluster reset failed: ${reset.stderr}`);
    log('floor: the same members started by a plain script');
    const f = await floor(env);
    const etcdMs = b.phases.etcd ?? null;
    const etcdRatio = etcdMs === null ? null : etcdMs / f.etcdMs;
    // Stricter: the etcd phase plus Ballast's install step, against the floor's etcd (which stages its files inside it).
    const installMs = b.etcdStepsMs['etcd-install'] ?? null;
    const withInstallRatio = etcdMs === null || installMs === null ? null : (etcdMs + installMs) / f.etcdMs;
    const run = {
      at: new Date().toISOString(),
      ballast: { totalMs: b.totalMs, phasesMs: b.phases, etcdStepsMs: b.etcdStepsMs },
      floor: { containerdMs: f.containerdMs, etcdMs: f.etcdMs, etcdTimelineMs: f.etcdTimelineMs },
      ratio: { etcd: etcdRatio, etcdWithInstall: withInstallRatio },
      verdict: { etcdWithinTarget: etcdRatio !== null && etcdRatio <= TARGET_ETCD_RATIO },
    };
    const previous = values.out && values.append && existsSync(values.out) ? ((JSON.parse(readFileSync(values.out, 'utf8')) as { runs?: unknown[] }).runs ?? []) : [];
    const report = {
      bench: 'bootstrap',
      topology: { etcdAndControlPlane: 3, workers: 2 },
      target: { etcdRatio: TARGET_ETCD_RATIO },
      note: "Ballast's hosts phase covers os-prep, containerd, kube-node on 5 hosts and the etcd install on 3 (binaries, certificates, configuration; not started) with artifact downloads; its etcd phase adds, starts and promotes members. ratio.etcdWithInstall counts the install step into Ballast's etcd time. the floor's containerd figure covers containerd alone from local files. The floor stages the etcd members' files and binaries one after the other in the background (timed, overlapping etcd's work and waits), and adds, starts and promotes the members one at a time; its membership changes retry only etcd's transient refusals, every 100 ms.",
      runs: [...previous, run],
    };
    return report;
  });
}

runBench('bootstrap', main);
