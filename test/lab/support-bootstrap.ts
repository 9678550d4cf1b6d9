/**
 * A lab ready for `ballastctl cluster create` (used by test/lab/bootstrap.test.ts and
 * bench/bootstrap.ts): N real systemd hosts joined to the controller, the offline test bundle
 * (real Debian etcd, containerd, runc; recording stand-ins for kubelet, kubeadm, kubectl, crictl
 * and the CNI plugins, because the real ones cannot run here) imported into the mirror, a
 * cluster.yaml, and a fake kube-apiserver in the controller's netns that holds the cluster's
 * Kubernetes CA — read from the controller's store, where the controller issued it (kubeadm gets
 * the same CA on the control planes). The stand-in kubelet forwards :6443 of each control plane
 * to it, so the VIP, /readyz and node registration are exercised end to end.
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { pkiInputs } from '../../controller/src/bootstrap/cluster-facts.js';
import { checkClusterDocument, type ClusterSpec } from '../../controller/src/cluster/spec.js';
import { issueServerCert } from '../../controller/src/pki/ca.js';
import { ClusterPki, type ClusterPkiBundle } from '../../controller/src/pki/cluster-pki.js';
import { openStore } from '../../controller/src/store/store.js';
import { silentLogger } from '../../shared/src/log.js';
import { type DebianTestBundle, debianTestBundle, KUBE_STANDIN_VERSION } from '../support/bundle.js';
import { type FakeApiServerProcess, standinEnv, startFakeApiServerProcess } from '../support/fake-apiserver-process.js';
import { STANDIN_ENV } from '../support/standin/log.js';
import { Lab } from './tool/lab.js';
import { downFromState } from './tool/teardown.js';
import { ensurePackages } from './tool/packages.js';
import { labDir } from './tool/state.js';

export const VIP = '198.18.0.250';
const FAKE_LISTEN = '198.18.0.2:16443';

/** A lab set up for the bootstrap. */
export interface BootstrapLab {
  lab: Lab;
  bundle: DebianTestBundle;
  work: string;
  clusterFile: string;
  spec: ClusterSpec;
  pki: ClusterPkiBundle;
  fake: FakeApiServerProcess;
  hosts: string[];
  controlPlane: string[];
  /** Stops the fake, tears the lab down and removes the work dir. */
  teardown(): Promise<void>;
}

/** Sets the lab up: `controlPlane` hosts are etcd + control plane, the rest workers. */
export async function setupBootstrapLab(opts: { hosts: number; controlPlane: number; log: (msg: string) => void; figure?: (name: string, ms: number) => void }): Promise<BootstrapLab> {
  const { log } = opts;
  if (await downFromState(labDir(), log)) log('removed a lab left over by an earlier run');
  const work = mkdtempSync(join(tmpdir(), 'ballast-lab-bootstrap-'));
  const hosts = Array.from({ length: opts.hosts }, (_, i) => `host${i + 1}`);
  const controlPlane = hosts.slice(0, opts.controlPlane);
  let lab: Lab | undefined;
  let fake: FakeApiServerProcess | undefined;
  const teardown = async () => {
    try {
      await fake?.stop();
      if (lab) await lab.down();
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  };
  try {
    const t0 = Date.now();
    await ensurePackages(log);
    const bundle = await debianTestBundle({ log, kubeStandins: true });
    opts.figure?.('packages and test bundle (with stand-ins) ready', Date.now() - t0);
    const t1 = Date.now();
    lab = await Lab.up({ hosts: hosts.length, log });
    opts.figure?.(`lab up (${hosts.length} hosts booted, agent installed, joined, healthy)`, Date.now() - t1);
    await lab.ctlJson(['artifacts', 'import', bundle.path, '-o', 'json'], { timeoutMs: 300_000 });
    const version = (name: string) => bundle.manifest.find((m) => m.name === name)?.version ?? '';
    writeFileSync(join(work, 'cni.yaml'), 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: kube-flannel\n  labels:\n    app: flannel\n');
    const currentLab = lab;
    const doc = {
      apiVersion: 'ballast.dev/v1alpha1',
      kind: 'Cluster',
      name: 'lab',
      versions: { kubernetes: KUBE_STANDIN_VERSION, etcd: version('etcd'), containerd: version('containerd') },
      vip: { address: VIP, interface: 'eth0' },
      network: { cniManifest: 'cni.yaml' },
      hosts: hosts.map((name) => ({ name, address: currentLab.host(name).address, roles: controlPlane.includes(name) ? ['etcd', 'control-plane'] : ['worker'] })),
      rollout: { workerBatch: 1 },
    };
    const clusterFile = join(work, 'cluster.yaml');
    writeFileSync(clusterFile, stringify(doc));
    const checked = checkClusterDocument(doc);
    if (!checked.ok) throw new Error(`the lab's cluster.yaml is invalid: ${JSON.stringify(checked.problems)}`);
    const spec = checked.spec;
    // The cluster PKI as the controller will use it (ensure is idempotent: the operation reuses it).
    const store = openStore({ path: join(lab.state.controllerDataDir, 'ballast.db') });
    let pki: ClusterPkiBundle;
    try {
      pki = await new ClusterPki({ repo: store.clusterPki, log: silentLogger() }).ensure('lab', pkiInputs(spec));
    } finally {
      store.close();
    }
    const serving = await issueServerCert({
      ca: pki.kubernetesCa,
      commonName: 'kube-apiserver',
      dnsNames: ['kubernetes', 'kubernetes.default', 'localhost'],
      ipAddresses: ['127.0.0.1', VIP, '198.18.0.2', ...controlPlane.map((h) => currentLab.host(h).address)],
      validityDays: 7,
    });
    const dir = join(work, 'fake');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const files = { caCert: join(dir, 'ca.crt'), servingCert: join(dir, 'apiserver.crt'), servingKey: join(dir, 'apiserver.key') };
    writeFileSync(files.caCert, pki.kubernetesCa.certPem);
    writeFileSync(files.servingCert, serving.certPem);
    writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
    fake = await startFakeApiServerProcess({
      dir,
      listen: FAKE_LISTEN,
      netns: lab.state.controllerNetns,
      pki: { ca: pki.kubernetesCa, serving, admin: pki.controllerAdmin, files },
      bootstrapTokens: [pki.bootstrapToken.token],
      clusterInfoServer: `https://${VIP}:6443`,
      gitVersion: `v${KUBE_STANDIN_VERSION}`,
      log,
    });
    for (const h of hosts) {
      await lab.exec(h, ['mkdir', '-p', '/etc/kubernetes']);
      writeFileSync(join(lab.host(h).root, STANDIN_ENV.slice(1)), standinEnv({ fakeApiServer: FAKE_LISTEN }));
    }
    return { lab, bundle, work, clusterFile, spec, pki, fake, hosts, controlPlane, teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}
