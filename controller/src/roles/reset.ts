/**
 * `reset`: removes what Ballast's roles installed on a host, in the order that keeps each step
 * safe — the VIP election config first (the manager drops the address and revokes its lease), then
 * `kubeadm reset`, then kubelet, etcd and containerd (unregistered from the component supervisor
 * before they are stopped, so it does not restart them), then their files, binaries and data.
 * Every task converges to "absent", so a second reset reports `ok` everywhere. Run by
 * `ballastctl cluster reset` (an operation that first removes etcd members that other members
 * outlive, through the quorum guard).
 *
 * Live kernel settings (sysctls, loaded modules, swap) are left as they are: only their persisted
 * files are removed, so nothing changes under running workloads until the next boot. Removed unit
 * files stay loaded in systemd until its next daemon-reload or boot (stopped and disabled).
 */
import { Type } from '@sinclair/typebox';
import { componentFilePath } from '../../../shared/src/components.js';
import { task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';

const ResetVars = Type.Object(
  {
    /** Also remove containerd's images and containers (/var/lib/containerd), as kubespray's reset does. */
    removeContainerData: Type.Boolean({ default: true }),
  },
  { additionalProperties: false },
);

/** What the roles install and reset removes (bench/kube-bootstrap.ts packs the same files for its floor). */
export const RESET_BINARIES = [
  '/usr/bin/kubelet',
  '/usr/bin/kubeadm',
  '/usr/bin/kubectl',
  '/usr/bin/crictl',
  '/usr/local/bin/etcd',
  '/usr/local/bin/etcdctl',
  '/usr/local/bin/containerd',
  '/usr/local/bin/containerd-shim-runc-v2',
  '/usr/local/bin/ctr',
  '/usr/local/sbin/runc',
];
export const RESET_FILES = [
  '/etc/systemd/system/kubelet.service',
  '/etc/systemd/system/etcd.service',
  '/etc/systemd/system/containerd.service',
  '/etc/crictl.yaml',
  '/etc/sysctl.d/99-ballast-kubernetes.conf',
  '/etc/modules-load.d/ballast.conf',
];
export const RESET_DIRECTORIES = ['/etc/systemd/system/kubelet.service.d', '/etc/kubernetes', '/var/lib/kubelet', '/etc/etcd', '/var/lib/etcd', '/etc/containerd', '/opt/cni/bin', '/etc/cni/net.d', '/etc/ballast/vip'];

/** The agent's VIP exclusion marker (agent/src/vip/exclusion.ts, VIP_EXCLUDED_PATH): written as plain JSON, hence `force`. */
export const VIP_EXCLUDED_MARKER = '/var/lib/ballast/vip-excluded';

const gone = (path: string): RoleTask => task(`Remove ${path}`, 'file', { path, content: '', state: 'absent', force: true });
const goneDir = (path: string): RoleTask => task(`Remove ${path}`, 'directory', { path, state: 'absent' });

/** The reset role. */
export const resetRole: RoleDefinition<typeof ResetVars> = {
  name: 'reset',
  description: 'remove what Ballast installed: VIP config, kubeadm state, kubelet, etcd, containerd, their files and data',
  vars: ResetVars,
  render({ host, vars }) {
    const tasks: RoleTask[] = [gone('/etc/ballast/vip.yaml')];
    // kubeadm reset is guarded on the agent: it runs only when kubeadm left state behind, and only if kubeadm is still there.
    tasks.push(task('kubeadm reset', 'kubeadm', { action: 'reset', binary: '/usr/bin/kubeadm' }));
    for (const unit of ['kubelet', 'etcd', 'containerd']) {
      tasks.push(gone(componentFilePath(unit)));
      tasks.push(task(`Stop and disable ${unit}.service`, 'systemd', { unit: `${unit}.service`, state: 'stopped', enabled: false }));
    }
    tasks.push(...RESET_FILES.map(gone), ...RESET_BINARIES.map(gone), ...RESET_DIRECTORIES.map(goneDir));
    // /var/lib/etcd removed on purpose: a later cluster create may start a new member here.
    tasks.push(task('Forget the etcd member marker', 'etcd_data', { action: 'forget', member: host.name }));
    if (vars.removeContainerData) tasks.push(goneDir('/var/lib/containerd'));
    // Last: the VIP exclusion marker (agent/src/vip/exclusion.ts). A replacement excludes OLD
    // before this role and includes it again after; a controller killed in between re-runs the
    // step when OLD no longer campaigns (vip.yaml is gone), so nobody would include it again and a
    // host enrolled later (as someone's NEW) would never campaign. Removed after vip.yaml, so the
    // manager is idle by then.
    tasks.push(gone(VIP_EXCLUDED_MARKER));
    return { tasks, handlers: [] };
  },
};
