/**
 * A lab for the real-Kubernetes tests (issue 11): N systemd hosts joined to the controller, the
 * source-built bundle (Kubernetes, etcd, crictl, images) in the mirror, the lab's pod network, and a
 * cluster.yaml with the VIP as controlPlaneEndpoint. Plus what those tests measure: the gap a client
 * sees through the VIP, and each host's memory.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeBuildsMissing } from '../support/kube-bundle.js';
import { run, sleep } from './tool/exec.js';
import { type KubeClusterSetup, KUBE_VIP, prepareKubeCluster } from './tool/kube-cluster.js';
import { Lab } from './tool/lab.js';
import { downFromState } from './tool/teardown.js';
import { ensurePackages } from './tool/packages.js';
import { labDir } from './tool/state.js';

export interface KubeLab extends KubeClusterSetup {
  lab: Lab;
  work: string;
  teardown(): Promise<void>;
}

/** Why the real-Kubernetes lab cannot run, printed, or null. */
export function kubeSkipReason(what: string): string | null {
  const why = kubeBuildsMissing();
  if (why !== null) console.log(`${what} skipped: ${why}`);
  return why;
}

/**
 * The lab up (`hosts` hosts; the agent installed and joined on `join` of them, default all), the
 * Kubernetes bundle imported, the pod network and cluster.yaml (the first `controlPlane` hosts
 * control planes); torn down again on failure.
 */
export async function setupKubeLab(opts: { hosts: number; controlPlane: number; join?: readonly string[]; log: (msg: string) => void }): Promise<KubeLab> {
  if (await downFromState(labDir(), opts.log)) opts.log('removed a lab left over by an earlier run');
  const work = mkdtempSync(join(tmpdir(), 'ballast-lab-kube-'));
  let lab: Lab | undefined;
  const teardown = async () => {
    try {
      if (lab) await lab.down();
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
  try {
    await ensurePackages(opts.log);
    lab = await Lab.up({ hosts: opts.hosts, log: opts.log, join: opts.join === undefined });
    if (opts.join !== undefined && opts.join.length > 0) await lab.installAndJoin([...opts.join]);
    const setup = await prepareKubeCluster(lab, { controlPlane: opts.controlPlane, work, log: opts.log });
    return { ...setup, lab, work, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/**
 * Probes https://VIP:6443/readyz from the client namespace every `intervalMs` (curl, 1 s timeout)
 * until stopped or `maxMs` passed; returns the longest run of failures between two successes and
 * how many probes ran. Bounded in count (maxMs / intervalMs) and time.
 */
export function probeVip(clientNetns: string, opts: { intervalMs: number; maxMs: number }): { stop(): Promise<{ longestGapMs: number; probes: number; failures: number }> } {
  let stopped = false;
  const done = (async () => {
    const started = Date.now();
    let lastOk: number | null = null;
    let longestGapMs = 0;
    let probes = 0;
    let failures = 0;
    while (!stopped && Date.now() - started < opts.maxMs) {
      const t = Date.now();
      const r = await run(['ip', 'netns', 'exec', clientNetns, 'curl', '-sk', '--max-time', '1', `https://${KUBE_VIP}:6443/readyz`], { allowFail: true, timeoutMs: 5000 });
      probes++;
      if (r.code === 0 && r.stdout.trim() === 'ok') {
        if (lastOk !== null) longestGapMs = Math.max(longestGapMs, t - lastOk);
        lastOk = t;
      } else {
        failures++;
      }
      await sleep(Math.max(0, opts.intervalMs - (Date.now() - t)));
    }
    return { longestGapMs, probes, failures };
  })();
  return {
    async stop() {
      stopped = true;
      return done;
    },
  };
}

/**
 * Resident memory of everything in a host (its cgroup subtree's `total_rss` in the memory
 * hierarchy): what the host's processes use, without the page cache.
 */
export function hostRssBytes(cgroups: readonly string[] | undefined): number | null {
  const dir = (cgroups ?? []).find((d) => d.startsWith('/sys/fs/cgroup/memory/'));
  if (dir === undefined) return null;
  const stat = readFileSync(join(dir, 'memory.stat'), 'utf8');
  const rss = /^total_rss (\d+)$/m.exec(stat)?.[1];
  return rss === undefined ? null : Number(rss);
}
