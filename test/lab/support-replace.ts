/**
 * What the real-Kubernetes replacement lab (replace.test.ts, issue 12) reads and does on the
 * cluster: etcd's member list and health from inside a live member, Nodes through the VIP, the VIP
 * holder, a power cut (the lab's power switch), and the fence command the controller runs for it.
 */
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { OperationDocument } from '../../shared/src/ops-api.js';
import { explainOp } from './support-ops.js';
import { run, sleep, waitUntil } from './tool/exec.js';
import { KUBE_VIP, kubectl } from './tool/kube-cluster.js';
import type { Lab } from './tool/lab.js';
import { isAlive, signal } from './tool/proc.js';
import { writeState } from './tool/state.js';
import { ETCD_TLS_ARGS } from './vip/setup.js';

/** One etcd member as `etcdctl member list -w json` and `endpoint health` see it. */
export interface EtcdMemberView {
  name: string;
  id: string;
  peer: string;
  client: string;
  learner: boolean;
  healthy: boolean;
  leader: boolean;
}

/** etcd as seen from `from` (a live member host): every member, its health and who leads. */
export async function etcdView(lab: Lab, from: string): Promise<EtcdMemberView[]> {
  const base = ['etcdctl', ...ETCD_TLS_ARGS, '--dial-timeout', '2s', '--command-timeout', '3s'];
  const self = `https://${lab.host(from).address}:2379`;
  const list = await lab.exec(from, [...base, '--endpoints', self, 'member', 'list', '-w', 'json'], { timeoutMs: 15_000 });
  const members = (JSON.parse(list.stdout) as { members?: Array<{ ID: number | string; name?: string; peerURLs?: string[]; clientURLs?: string[]; isLearner?: boolean }> }).members ?? [];
  const out: EtcdMemberView[] = [];
  for (const m of members) {
    const client = m.clientURLs?.[0] ?? '';
    let healthy = false;
    let leader = false;
    if (client !== '') {
      const st = await lab.exec(from, [...base, '--endpoints', client, 'endpoint', 'status', '-w', 'json'], { allowFail: true, timeoutMs: 15_000 });
      if (st.code === 0) {
        const s = (JSON.parse(st.stdout) as Array<{ Status: { header: { member_id: number | string }; leader: number | string } }>)[0];
        healthy = s !== undefined;
        leader = s !== undefined && String(s.Status.header.member_id) === String(s.Status.leader);
      }
    }
    out.push({ name: m.name ?? '', id: BigInt(m.ID).toString(16), peer: m.peerURLs?.[0] ?? '', client, learner: m.isLearner === true, healthy, leader });
  }
  return out;
}

/** etcd's leader moved to `to` (move-leader sent to the current leader), waited for. */
export async function moveEtcdLeader(lab: Lab, from: string, to: string): Promise<void> {
  const view = await etcdView(lab, from);
  const leader = view.find((m) => m.leader);
  const target = view.find((m) => m.name === to || m.peer.includes(`//${lab.host(to).address}:`));
  if (leader === undefined || target === undefined) throw new Error(`failed to move the etcd leader to ${to}: ${JSON.stringify(view)}`);
  if (leader.id === target.id) return;
  await lab.exec(from, ['etcdctl', ...ETCD_TLS_ARGS, '--endpoints', leader.client, 'move-leader', target.id], { timeoutMs: 15_000 });
}

/**
 * Waits until etcd, read from a live member of `want` (not `avoid`), has exactly `want` as started,
 * healthy voters and nothing else; returns that view.
 */
export async function waitForVoters(lab: Lab, want: readonly string[], opts: { avoid?: string; timeoutMs?: number } = {}): Promise<EtcdMemberView[]> {
  const from = want.find((h) => h !== opts.avoid) ?? want[0] ?? '';
  return waitUntil(
    `etcd to have exactly ${want.join(', ')} as healthy voters`,
    async () => {
      const v = await etcdView(lab, from).catch(() => null);
      if (v === null) return undefined;
      const addrs = want.map((h) => `//${lab.host(h).address}:`);
      const ok = v.length === want.length && v.every((m) => m.healthy && !m.learner && addrs.some((a) => m.peer.includes(a)));
      return ok ? v : undefined;
    },
    { timeoutMs: opts.timeoutMs ?? 60_000, intervalMs: 1000 },
  );
}

/** Waits until the Nodes through the VIP are exactly `want`, all Ready. */
export async function waitForNodes(lab: Lab, kubeconfig: string, want: readonly string[], timeoutMs: number): Promise<void> {
  const wanted = JSON.stringify([...want].sort());
  await waitUntil(
    `Nodes through the VIP to be exactly ${want.join(', ')}, all Ready`,
    async () => {
      const nodes = await nodesViaVip(lab, kubeconfig);
      if (nodes === null) return undefined;
      return JSON.stringify(nodes.map((n) => n.name).sort()) === wanted && nodes.every((n) => n.ready) ? true : undefined;
    },
    { timeoutMs, intervalMs: 500 },
  );
}

/**
 * `ballastctl cluster create -f FILE --yes` (throws unless it succeeded), then the admin kubeconfig
 * (2 h, the VIP as its server) written to `kubeconfig` and `nodes` Ready through the VIP. Resolves
 * with the create's own wall time in ms (the lab tests' figure).
 */
export async function createCluster(lab: Lab, clusterFile: string, kubeconfig: string, nodes: readonly string[]): Promise<number> {
  const t0 = Date.now();
  const r = await lab.ctl(['cluster', 'create', '-f', clusterFile, '--yes', '-o', 'json'], { timeoutMs: 900_000, allowFail: true });
  const doc = JSON.parse(r.stdout) as OperationDocument;
  if (doc.state !== 'succeeded') throw new Error(`cluster create ended ${doc.state}: ${explainOp(doc)}`);
  const createMs = Date.now() - t0;
  const kcfg = await lab.ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '2h'], { timeoutMs: 30_000 });
  if (!kcfg.stdout.includes(`server: https://${KUBE_VIP}:6443`)) throw new Error(`the kubeconfig does not name the VIP ${KUBE_VIP}:\n${kcfg.stdout.slice(0, 400)}`);
  writeFileSync(kubeconfig, kcfg.stdout, { mode: 0o600 });
  await waitForNodes(lab, kubeconfig, nodes, 180_000);
  return createMs;
}

/** The --etcd-servers of `host`'s kube-apiserver static pod, as lab host names. */
export async function etcdServersOf(lab: Lab, host: string): Promise<string[]> {
  const m = /--etcd-servers=(\S+)/.exec((await lab.exec(host, ['cat', '/etc/kubernetes/manifests/kube-apiserver.yaml'])).stdout)?.[1] ?? '';
  return m.split(',').map((u) => lab.state.hosts.find((h) => u === `https://${h.address}:2379`)?.name ?? u);
}

/** A Node as `kubectl get nodes -o json` gives it, reduced. */
export interface NodeView {
  name: string;
  ready: boolean;
}

/** Nodes through the VIP (null while the API does not answer). */
export async function nodesViaVip(lab: Lab, kubeconfig: string): Promise<NodeView[] | null> {
  const r = await kubectl(lab, kubeconfig, ['get', 'nodes', '-o', 'json'], { allowFail: true, timeoutMs: 20_000 });
  if (r.code !== 0) return null;
  const items = (JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string }; status: { conditions?: Array<{ type: string; status: string }> } }> }).items;
  return items.map((n) => ({ name: n.metadata.name, ready: (n.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True') }));
}

/** The hosts among `candidates` whose eth0 holds the VIP (powered-off hosts are skipped). */
export async function vipHolders(lab: Lab, candidates: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const h of candidates) {
    if (!isAlive(lab.host(h).init)) continue;
    const r = await lab.exec(h, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'], { allowFail: true });
    if (r.stdout.includes(` ${KUBE_VIP}/`)) out.push(h);
  }
  return out;
}

/**
 * A power cut: the switch port down, the container's PID 1 SIGKILLed (every process of the host
 * dies at once, no graceful release), the VIP gone with the machine (vip/faults.ts's powerCut,
 * on a plain Lab).
 */
export async function powerCut(lab: Lab, name: string): Promise<void> {
  const host = lab.host(name);
  await lab.partition(name);
  if (host.init && isAlive(host.init)) signal(host.init, 'SIGKILL');
  for (let i = 0; i < 300 && isAlive(host.nspawn); i++) await sleep(50);
  if (isAlive(host.nspawn)) throw new Error(`failed to cut the power of ${name}: systemd-nspawn still runs after 15 s`);
  host.nspawn = null;
  host.init = null;
  rmSync(`/run/systemd/nspawn/propagate/${name}`, { recursive: true, force: true });
  writeState(lab.state);
  await run(['ip', '-n', host.netns, 'addr', 'del', `${KUBE_VIP}/32`, 'dev', 'eth0'], { allowFail: true });
}

/**
 * The lab's power switch as a fence agent: a script the controller runs (`kind: command`) that
 * cuts the host's power if it is on (SIGKILL of its PID 1, waited for) and exits 0 only once the
 * host's container is gone — what an IPMI `chassis power off` + status check does on metal.
 * Returns the script's path; `others` are more fencing.yaml entries (a Redfish BMC's, support-redfish.ts).
 */
export function writeLabFenceScript(lab: Lab, work: string): string {
  const script = join(work, 'lab-fence.mjs');
  writeFileSync(
    script,
    `import { readFileSync } from 'node:fs';
const host = process.env.BALLAST_FENCE_HOST;
const state = JSON.parse(readFileSync(${JSON.stringify(join(lab.state.dir, 'state.json'))}, 'utf8'));
const h = state.hosts.find((x) => x.name === host);
if (!h) { console.error('no lab host ' + host); process.exit(2); }
const alive = (ref) => {
  if (!ref) return false;
  try {
    const st = readFileSync('/proc/' + ref.pid + '/stat', 'utf8');
    if (st.slice(st.lastIndexOf(')') + 2).split(' ')[19] !== ref.startTime) return false;
    return !/^State:\\s+Z/m.test(readFileSync('/proc/' + ref.pid + '/status', 'utf8'));
  } catch { return false; }
};
if (alive(h.init)) process.kill(h.init.pid, 'SIGKILL');
for (let i = 0; i < 300 && alive(h.nspawn); i++) await new Promise((r) => setTimeout(r, 50));
if (alive(h.nspawn)) { console.error(host + ' still runs'); process.exit(1); }
console.log(host + ' is powered off (lab power switch)');
`,
  );
  chmodSync(script, 0o700);
  return script;
}

/** fencing.yaml (read at controller start): the lab's power switch for `hosts` ({@link writeLabFenceScript}), plus `others`. */
export function writeLabFencing(lab: Lab, script: string, hosts: readonly string[], others: Record<string, unknown> = {}): void {
  const config = { hosts: { ...Object.fromEntries(hosts.map((h) => [h, { kind: 'command', argv: [process.execPath, script], timeoutMs: 30_000 }])), ...others } };
  writeFileSync(join(lab.state.controllerDataDir, 'fencing.yaml'), stringify(config));
}

/** Rewrites the lab's cluster.yaml: only `members` in it, plus `extra` top-level fields. */
export function reshapeClusterFile(file: string, members: readonly string[], extra: Record<string, unknown>): void {
  const doc = parse(readFileSync(file, 'utf8')) as { hosts: Array<{ name: string }> } & Record<string, unknown>;
  doc.hosts = doc.hosts.filter((h) => members.includes(h.name));
  writeFileSync(file, stringify({ ...doc, ...extra }));
}

/** The lab's power switch as every one of `hosts`' fence agent (fencing.yaml; read at controller start). */
export function writeLabFenceAgent(lab: Lab, work: string, hosts: readonly string[]): void {
  writeLabFencing(lab, writeLabFenceScript(lab, work), hosts);
}
