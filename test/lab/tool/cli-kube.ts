import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kubeBuildsMissing, kubeLabBundle } from '../../support/kube-bundle.js';
import { KUBE_VIP, kubectl, labKubectl, prepareKubeCluster } from './kube-cluster.js';
import { Lab } from './lab.js';
import { labDir, readState } from './state.js';

/**
 * The lab CLI's real-Kubernetes commands (issue 11):
 *
 *   bundle                      build the real-Kubernetes lab bundle (source-built Kubernetes, etcd,
 *                               crictl and images + Debian's containerd, runc, CNI plugins; signed with
 *                               the test-only key) and print its path and manifest summary
 *   cluster [--control-planes N]  on a running lab: the bundle into the mirror, the lab's pod network,
 *                               `ballastctl cluster create` with live progress, then a kubeconfig from
 *                               Ballast and `kubectl get nodes` through the VIP, and `ballastctl vip status`
 */
export async function kubeCommand(command: 'bundle' | 'cluster', args: string[], log: (msg: string) => void): Promise<number> {
  const missing = kubeBuildsMissing();
  if (missing !== null) {
    log(missing);
    return 1;
  }
  if (command === 'bundle') {
    if (args.length > 0) return usage(log);
    const bundle = await kubeLabBundle({ log });
    process.stdout.write(`${bundle.path}\n`);
    for (const m of bundle.manifest) process.stdout.write(`  ${m.name} ${m.version} ${m.file}\n`);
    log(`import it with: scripts/lab ctl artifacts import ${bundle.path}`);
    return 0;
  }
  let controlPlanes = 3;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--control-planes') controlPlanes = Number(args[++i]);
    else return usage(log);
  }
  if (!readState(labDir())) {
    log('no lab is up: run scripts/lab up --hosts 5 first');
    return 1;
  }
  const lab = Lab.attach(labDir(), log);
  if (!Number.isInteger(controlPlanes) || controlPlanes < 1 || controlPlanes >= lab.state.hosts.length) {
    log(`--control-planes must be 1..${lab.state.hosts.length - 1} (the lab has ${lab.state.hosts.length} hosts; the rest are workers)`);
    return 2;
  }
  const work = join(lab.state.dir, 'kube');
  mkdirSync(work, { recursive: true });
  const setup = await prepareKubeCluster(lab, { controlPlane: controlPlanes, work, log });
  log(`cluster.yaml: ${setup.clusterFile}`);
  log(`$ ballastctl cluster create -f ${setup.clusterFile} --yes`);
  const code = await lab.ctlStreaming(['cluster', 'create', '-f', setup.clusterFile, '--yes']);
  if (code !== 0) return code;
  const kcfg = await lab.ctl(['cluster', 'kubeconfig', 'lab', '--ttl', '24h']);
  const kubeconfig = join(work, 'admin.conf');
  writeFileSync(kubeconfig, kcfg.stdout, { mode: 0o600 });
  log(`$ kubectl --kubeconfig ${kubeconfig} get nodes -o wide   (through the VIP ${KUBE_VIP}, from the lab's client namespace)`);
  for (let attempt = 0; attempt < 60; attempt++) {
    const r = await kubectl(lab, kubeconfig, ['get', 'nodes', '-o', 'wide'], { allowFail: true, timeoutMs: 30_000 });
    const notReady = r.stdout.split('\n').filter((l) => / NotReady /.test(l)).length;
    if (r.code === 0 && notReady === 0) {
      process.stdout.write(r.stdout);
      break;
    }
    if (attempt === 59) process.stdout.write(r.stdout + r.stderr);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  await lab.ctlStreaming(['vip', 'status']);
  log(`watch the VIP move: scripts/lab poweroff <the holder above>; scripts/lab ctl vip status; scripts/lab poweron <it>`);
  log(`kubectl yourself: ip netns exec ${lab.state.clientNetns} ${labKubectl()} --kubeconfig ${kubeconfig} get pods -A`);
  return 0;
}

function usage(log: (msg: string) => void): number {
  log('usage: lab bundle | lab cluster [--control-planes N]');
  return 2;
}
