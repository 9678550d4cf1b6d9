/**
 * `kube-node`: kubelet, kubeadm and kubectl from the mirror (one Kubernetes version for all three),
 * the kubelet unit with kubeadm's 10-kubeadm.conf drop-in (as the upstream deb/rpm packages ship
 * them), crictl and its config, and the kubelet component. kubelet is enabled but not started:
 * `kubeadm init/join` writes its config and starts it, so the component is supervised only once
 * /var/lib/kubelet/config.yaml exists.
 */
import { Type } from '@sinclair/typebox';
import { file, under } from '../../../shared/src/tasks/safety.js';
import { checkPathVar } from './safe-vars.js';
import { artifactTask, componentTask, directoryTask, task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';

const Version = Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' });
const Path = (def: string) => Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: def });

const KubeNodeVars = Type.Object(
  {
    /** Kubernetes version of kubelet, kubeadm and kubectl; the newest kubelet in the mirror when absent. */
    version: Type.Optional(Version),
    crictl: Type.Object(
      { enabled: Type.Boolean({ default: true }), version: Type.Optional(Version) },
      { additionalProperties: false, default: {} },
    ),
    /** kubeadm's drop-in and the packages expect /usr/bin. */
    binDir: Path('/usr/bin'),
    /** The CRI socket crictl talks to (containerd's). */
    criSocket: Type.String({ pattern: '^unix:///[A-Za-z0-9._/@+-]+$', default: 'unix:///run/containerd/containerd.sock' }),
    healthzUrl: Type.String({ pattern: '^http://[^\\s]+$', maxLength: 256, default: 'http://127.0.0.1:10248/healthz' }),
  },
  { additionalProperties: false },
);

/** Where the binaries may go (kubeadm's binary allow-list has the same two), and where the CRI socket may be. */
export const KUBE_NODE_PATH_RULES = { binDir: [file('/usr/bin'), file('/usr/local/bin')], criSocket: [under('/run/containerd')] } as const;

/** Notified when the kubelet binary or its unit changes; restarts kubelet only if it is running. */
export const RESTART_KUBELET = 'restart kubelet';

/** The upstream kubelet.service. */
export function kubeletUnit(binDir: string): string {
  return `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=${binDir}/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`;
}

/** kubeadm's drop-in: kubeconfigs, config.yaml and the flags file kubeadm writes at init/join. */
export function kubeadmDropIn(binDir: string): string {
  return `[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# Written by "kubeadm init" and "kubeadm join" at runtime: KUBELET_KUBEADM_ARGS.
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# Last-resort overrides: KUBELET_EXTRA_ARGS.
EnvironmentFile=-/etc/default/kubelet
ExecStart=
ExecStart=${binDir}/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`;
}

/** /etc/crictl.yaml. */
export function crictlConfig(socket: string): string {
  return `runtime-endpoint: ${socket}\nimage-endpoint: ${socket}\ntimeout: 10\ndebug: false\n`;
}

/** The kube-node role. */
export const kubeNodeRole: RoleDefinition<typeof KubeNodeVars> = {
  name: 'kube-node',
  description: 'kubelet/kubeadm/kubectl, kubelet unit + kubeadm drop-in, crictl config, kubelet probe',
  vars: KubeNodeVars,
  render({ vars, artifact, problem }) {
    checkPathVar(problem, '/vars/binDir', vars.binDir, KUBE_NODE_PATH_RULES.binDir);
    checkPathVar(problem, '/vars/criSocket', vars.criSocket.slice('unix://'.length), KUBE_NODE_PATH_RULES.criSocket);
    const kubelet = artifact('kubelet', vars.version);
    // kubeadm and kubectl must match kubelet's version, whichever the mirror resolved it to.
    const version = vars.version ?? kubelet.version;
    const tasks: RoleTask[] = [
      artifactTask('Install kubelet', kubelet, [{ from: 'kubelet', to: `${vars.binDir}/kubelet`, mode: '0755' }], { notify: [RESTART_KUBELET] }),
      artifactTask('Install kubeadm', artifact('kubeadm', version), [{ from: 'kubeadm', to: `${vars.binDir}/kubeadm`, mode: '0755' }]),
      artifactTask('Install kubectl', artifact('kubectl', version), [{ from: 'kubectl', to: `${vars.binDir}/kubectl`, mode: '0755' }]),
    ];
    if (vars.crictl.enabled) {
      tasks.push(artifactTask('Install crictl', artifact('crictl', vars.crictl.version), [{ from: 'crictl', to: `${vars.binDir}/crictl`, mode: '0755' }]));
      tasks.push(task('Write /etc/crictl.yaml', 'file', { path: '/etc/crictl.yaml', content: crictlConfig(vars.criSocket), mode: '0644' }));
    }
    tasks.push(directoryTask('/etc/kubernetes/manifests'), directoryTask('/var/lib/kubelet'));
    tasks.push(
      task(
        'Install kubelet.service with the kubeadm drop-in',
        'systemd',
        { unit: 'kubelet.service', content: kubeletUnit(vars.binDir), dropIns: { '10-kubeadm.conf': kubeadmDropIn(vars.binDir) }, enabled: true },
        { notify: [RESTART_KUBELET] },
      ),
    );
    tasks.push(
      componentTask({
        name: 'kubelet',
        unit: 'kubelet.service',
        probe: { kind: 'kubelet', url: vars.healthzUrl },
        requiresPath: '/var/lib/kubelet/config.yaml',
      }),
    );
    // Restart only a running kubelet: before kubeadm init/join there is nothing to restart.
    const handlers = [task(RESTART_KUBELET, 'systemd', { unit: 'kubelet.service', state: 'try-restarted' })];
    return { tasks, handlers };
  },
};
