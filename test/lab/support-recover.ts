/**
 * What the disaster-recovery proof on the real-Kubernetes lab (issue 13; kubernetes.test.ts)
 * reads and does besides ballastctl: marker objects through the VIP, a byte flipped in a sealed
 * snapshot, the controller's metrics, etcd's status, the etcd data of members destroyed, kubelet
 * logs and node leases.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { EtcdClusterStatus } from '../../shared/src/etcd-api.js';
import { run, sleep } from './tool/exec.js';
import { kubectl } from './tool/kube-cluster.js';
import type { Lab } from './tool/lab.js';

/** The lab and the admin kubeconfig (server: the VIP) the proof works with. */
export interface DrEnv {
  lab: Lab;
  kubeconfig: string;
  cluster: string;
}

/** The label every marker namespace carries, so a list shows exactly them. */
const MARKER = 'ballast.dev/dr-marker';

/** kubectl through the VIP; throws with its stderr on failure. */
export async function kubectlOk(env: DrEnv, args: string[], input?: string): Promise<string> {
  const r = await kubectl(env.lab, env.kubeconfig, args, { allowFail: true, timeoutMs: 30_000, ...(input === undefined ? {} : { input }) });
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Creates namespaces `<prefix>-1..n`, each with a ConfigMap `marker` whose `phase` is `prefix`,
 * through the VIP.
 */
export async function createMarkers(env: DrEnv, prefix: string, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}`);
  const docs = names.flatMap((ns) => [
    `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns}, labels: { ${MARKER}: "true" } }`,
    `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: marker, namespace: ${ns} }\ndata: { phase: ${prefix}, namespace: ${ns} }`,
  ]);
  await kubectlOk(env, ['apply', '-f', '-'], `${docs.join('\n---\n')}\n`);
  return names;
}

/** The marker namespaces that exist, each with its ConfigMap's `phase` (null when the ConfigMap is missing). */
export async function markers(env: DrEnv): Promise<Record<string, string | null>> {
  const nss = JSON.parse(await kubectlOk(env, ['get', 'namespaces', '-l', `${MARKER}=true`, '-o', 'json'])) as { items: Array<{ metadata: { name: string } }> };
  const cms = JSON.parse(await kubectlOk(env, ['get', 'configmaps', '-A', '--field-selector', 'metadata.name=marker', '-o', 'json'])) as {
    items: Array<{ metadata: { namespace: string }; data?: { phase?: string } }>;
  };
  const out: Record<string, string | null> = {};
  for (const ns of nss.items) out[ns.metadata.name] = cms.items.find((c) => c.metadata.namespace === ns.metadata.name)?.data?.phase ?? null;
  return out;
}

/** Flips one bit of the byte in the middle of snapshot `id`'s sealed file in the controller's store. */
export async function flipByte(lab: Lab, id: string): Promise<string> {
  const file = join(lab.state.controllerDataDir, 'snapshots', `${id}.bsnap`);
  const fh = await open(file, 'r+');
  try {
    const { size } = await fh.stat();
    const at = Math.floor(size / 2);
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, at);
    one[0] = (one[0] ?? 0) ^ 0x01;
    await fh.write(one, 0, 1, at);
  } finally {
    await fh.close();
  }
  return file;
}

/** A sample of the controller's /metrics (no credentials needed), or null when it has none. */
export async function metricValue(lab: Lab, name: string, labels: string): Promise<number | null> {
  const r = await run(['ip', 'netns', 'exec', lab.state.clientNetns, 'curl', '-sk', '--max-time', '10', `${lab.serverUrl}/metrics`], { timeoutMs: 20_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith(`${name}{${labels}} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? null : Number(line.slice(line.lastIndexOf(' ') + 1));
}

/** `ballastctl etcd status CLUSTER -o json`. */
export async function etcdStatus(env: DrEnv): Promise<EtcdClusterStatus> {
  const r = await env.lab.ctl(['etcd', 'status', env.cluster, '-o', 'json'], { timeoutMs: 60_000, allowFail: true });
  if (r.stdout.trim() === '') throw new Error(`ballastctl etcd status: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout) as EtcdClusterStatus;
}

/** The highest revision any member reports. */
export function topRevision(status: EtcdClusterStatus): bigint {
  return status.members.reduce((max, m) => (m.status !== null && BigInt(m.status.revision) > max ? BigInt(m.status.revision) : max), 0n);
}

/**
 * The disaster: etcd killed and its data directory removed on each of `hosts` (a crash and a lost
 * disk). Not `systemctl stop`: the agent's supervisor restarts etcd meanwhile and systemd cancels
 * the stop job. systemd (RestartSec 5 s) and the supervisor try to start etcd again, and the
 * unit's `AssertPathExists=/var/lib/etcd/member` refuses (before that assertion the init member
 * bootstrapped a new, empty cluster here: see controller/src/roles/etcd.ts), so the members stay
 * down — the state of hosts whose disks were lost.
 */
export async function destroyEtcdData(lab: Lab, hosts: readonly string[]): Promise<void> {
  const script = 'systemctl kill --signal=SIGKILL etcd; for i in $(seq 50); do pgrep -x etcd >/dev/null || break; sleep 0.1; done; ! pgrep -x etcd >/dev/null && rm -rf /var/lib/etcd';
  await Promise.all(hosts.map((h) => lab.exec(h, ['sh', '-c', script], { timeoutMs: 60_000 })));
}

/** The last lines of etcd's journal on `host` (why a destroyed member stays down). */
export async function etcdJournal(lab: Lab, host: string, lines: number): Promise<string> {
  return (await lab.exec(host, ['journalctl', '-q', '-u', 'etcd', '--no-pager', '-n', String(lines)], { timeoutMs: 30_000, allowFail: true })).stdout;
}

/** Lines of the kubelet's journal on `host` since `sinceMs` (epoch ms) that say 401 or Unauthorized. */
export async function kubeletUnauthorized(lab: Lab, host: string, sinceMs: number): Promise<string[]> {
  const r = await lab.exec(host, ['journalctl', '-q', '-u', 'kubelet', '--no-pager', '--since', `@${Math.floor(sinceMs / 1000)}`], { timeoutMs: 60_000 });
  // Not a bare "401": klog's source positions (reflector.go:401) would match.
  return r.stdout.split('\n').filter((l) => /unauthori[sz]ed|(status|code)\W{0,3}401\b/i.test(l));
}

/** Every node's lease renew time (epoch ms), by node name. */
export async function leaseRenewals(env: DrEnv): Promise<Record<string, number>> {
  const leases = JSON.parse(await kubectlOk(env, ['get', 'leases', '-n', 'kube-node-lease', '-o', 'json'])) as { items: Array<{ metadata: { name: string }; spec: { renewTime?: string } }> };
  return Object.fromEntries(leases.items.map((l) => [l.metadata.name, l.spec.renewTime === undefined ? 0 : Date.parse(l.spec.renewTime)]));
}

/** Names of the Ready nodes, or null while the API does not answer through the VIP. */
export async function readyNodes(env: DrEnv): Promise<string[] | null> {
  const r = await kubectl(env.lab, env.kubeconfig, ['get', 'nodes', '-o', 'json'], { allowFail: true, timeoutMs: 30_000 });
  if (r.code !== 0) return null;
  const nodes = JSON.parse(r.stdout) as { items: Array<{ metadata: { name: string }; status: { conditions: Array<{ type: string; status: string }> } }> };
  return nodes.items.filter((n) => n.status.conditions.some((c) => c.type === 'Ready' && c.status === 'True')).map((n) => n.metadata.name);
}

/** /readyz through the VIP from the client namespace (curl, no credentials: readyz is public). */
export async function vipReady(lab: Lab, vip: string): Promise<boolean> {
  const r = await run(['ip', 'netns', 'exec', lab.state.clientNetns, 'curl', '-sk', '--max-time', '2', `https://${vip}:6443/readyz`], { allowFail: true, timeoutMs: 10_000 });
  return r.code === 0 && r.stdout.trim() === 'ok';
}

/** Polls `probe` every `intervalMs` until it returns true; the time it first did (epoch ms). */
export async function firstTrue(probe: () => Promise<boolean>, opts: { timeoutMs: number; intervalMs: number; what: string }): Promise<number> {
  const deadline = Date.now() + opts.timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return Date.now();
    await sleep(opts.intervalMs);
  }
  throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
}
