/**
 * `containerd`: containerd, runc and (optionally) the CNI plugins from the mirror, config.toml with
 * the systemd cgroup driver (what kubelet expects with cgroup v2), the systemd unit, a restart
 * handler notified by binary or config changes, and the component file so the agent supervises it.
 */
import { Type } from '@sinclair/typebox';
import { file, tree, under } from '../../../shared/src/tasks/safety.js';
import { SandboxImage } from './images.js';
import { checkPathVar } from './safe-vars.js';
import { artifactTask, componentTask, directoryTask, parentDir, task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';

/** Paths and names end up in TOML strings and unit lines: keep them to a quote-free alphabet. */
const pathVar = (def: string) => Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: def });
const Version = Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' });
const PluginName = Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' });

/**
 * Where each path var may point. Install paths are a fixed choice (an operator must not pick where a
 * root-run binary lands, nor what the unit starts); data and runtime directories stay under
 * containerd's own prefixes.
 */
export const CONTAINERD_PATH_RULES = {
  binDir: [file('/usr/local/bin'), file('/usr/bin')],
  runcPath: [file('/usr/local/sbin/runc'), file('/usr/local/bin/runc'), file('/usr/bin/runc')],
  configPath: [file('/etc/containerd/config.toml')],
  root: [tree('/var/lib/containerd')],
  state: [tree('/run/containerd')],
  socket: [under('/run/containerd')],
  'cni/binDir': [file('/opt/cni/bin')],
  'cni/confDir': [file('/etc/cni/net.d')],
} as const;

/** Upstream CNI plugins installed by default (kubespray's set). */
export const DEFAULT_CNI_PLUGINS = ['bridge', 'host-local', 'loopback', 'portmap', 'bandwidth', 'firewall', 'tuning'];

const ContainerdVars = Type.Object(
  {
    /** Mirror versions; the newest the mirror holds when absent. */
    version: Type.Optional(Version),
    runcVersion: Type.Optional(Version),
    cni: Type.Object(
      {
        enabled: Type.Boolean({ default: true }),
        version: Type.Optional(Version),
        plugins: Type.Array(PluginName, { default: DEFAULT_CNI_PLUGINS, minItems: 1, maxItems: 48, uniqueItems: true }),
        binDir: pathVar('/opt/cni/bin'),
        confDir: pathVar('/etc/cni/net.d'),
      },
      { additionalProperties: false, default: {} },
    ),
    binDir: pathVar('/usr/local/bin'),
    runcPath: pathVar('/usr/local/sbin/runc'),
    configPath: pathVar('/etc/containerd/config.toml'),
    root: pathVar('/var/lib/containerd'),
    state: pathVar('/run/containerd'),
    socket: pathVar('/run/containerd/containerd.sock'),
    /** The pause kubeadm names for the catalogue's Kubernetes (the images role imports the same one). */
    sandboxImage: SandboxImage,
    /** runc's `SystemdCgroup`: must match kubelet's cgroup driver (cluster spec `node.cgroupDriver`). */
    systemdCgroup: Type.Boolean({ default: true }),
    /** CRI `restrict_oom_score_adj` (cluster spec `node.restrictOomScoreAdj`). */
    restrictOomScoreAdj: Type.Boolean({ default: false }),
    /** containerd plugin ids to disable, e.g. `io.containerd.grpc.v1.cri` on hosts without Kubernetes. */
    disabledPlugins: Type.Array(Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' }), { default: [], maxItems: 32 }),
  },
  { additionalProperties: false },
);

/** The handler every change that needs a restart notifies. */
export const RESTART_CONTAINERD = 'restart containerd';

/** containerd config v2 (containerd 1.6/1.7). SystemdCgroup follows kubelet's cgroup driver (systemd unless the cluster says cgroupfs). */
export const CONTAINERD_CONFIG_TEMPLATE = `version = 2
root = "{{ root }}"
state = "{{ state }}"
disabled_plugins = [{{ disabledPlugins }}]

[grpc]
  address = "{{ socket }}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{{ sandboxImage }}"
  restrict_oom_score_adj = {{ restrictOomScoreAdj }}

  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = {{ systemdCgroup }}
        BinaryName = "{{ runcPath }}"

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{{ cniBinDir }}"
    conf_dir = "{{ cniConfDir }}"
`;

/** containerd's upstream unit, with our paths. */
export function containerdUnit(opts: { binDir: string; configPath: string }): string {
  return `[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${opts.binDir}/containerd --config ${opts.configPath}
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
LimitNOFILE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;
}

/** The containerd role. */
export const containerdRole: RoleDefinition<typeof ContainerdVars> = {
  name: 'containerd',
  description: 'containerd + runc (+ CNI plugins), config.toml with SystemdCgroup, unit, health probe',
  vars: ContainerdVars,
  render({ host, vars, artifact, problem }) {
    const values = { ...vars, 'cni/binDir': vars.cni.binDir, 'cni/confDir': vars.cni.confDir };
    for (const [name, rules] of Object.entries(CONTAINERD_PATH_RULES)) checkPathVar(problem, `/vars/${name}`, values[name as keyof typeof CONTAINERD_PATH_RULES], rules);
    const restart = { notify: [RESTART_CONTAINERD] };
    const tasks: RoleTask[] = [];
    tasks.push(
      artifactTask(
        'Install containerd binaries',
        artifact('containerd', vars.version),
        ['containerd', 'containerd-shim-runc-v2', 'ctr'].map((bin) => ({ from: `bin/${bin}`, to: `${vars.binDir}/${bin}`, mode: '0755' })),
        restart,
      ),
    );
    // runc ships upstream as a single file named runc.<arch>.
    tasks.push(artifactTask('Install runc', artifact('runc', vars.runcVersion), [{ from: `runc.${host.arch}`, to: vars.runcPath, mode: '0755' }]));
    if (vars.cni.enabled) {
      tasks.push(directoryTask(vars.cni.binDir), directoryTask(vars.cni.confDir));
      tasks.push(
        artifactTask(
          'Install CNI plugins',
          artifact('cni-plugins', vars.cni.version),
          vars.cni.plugins.map((p) => ({ from: p, to: `${vars.cni.binDir}/${p}`, mode: '0755' })),
        ),
      );
    }
    tasks.push(directoryTask(parentDir(vars.configPath)));
    tasks.push(
      task(
        'Write containerd config.toml',
        'template',
        {
          path: vars.configPath,
          template: CONTAINERD_CONFIG_TEMPLATE,
          vars: {
            root: vars.root,
            state: vars.state,
            socket: vars.socket,
            sandboxImage: vars.sandboxImage,
            systemdCgroup: String(vars.systemdCgroup),
            restrictOomScoreAdj: String(vars.restrictOomScoreAdj),
            runcPath: vars.runcPath,
            cniBinDir: vars.cni.binDir,
            cniConfDir: vars.cni.confDir,
            disabledPlugins: vars.disabledPlugins.map((p) => `"${p}"`).join(', '),
          },
          mode: '0644',
        },
        restart,
      ),
    );
    tasks.push(
      task(
        'Install and start containerd.service',
        'systemd',
        { unit: 'containerd.service', content: containerdUnit(vars), enabled: true, state: 'started' },
        restart,
      ),
    );
    tasks.push(componentTask({ name: 'containerd', unit: 'containerd.service', probe: { kind: 'containerd', socket: vars.socket } }));
    const handlers = [task(RESTART_CONTAINERD, 'systemd', { unit: 'containerd.service', state: 'restarted' })];
    return { tasks, handlers };
  },
};
