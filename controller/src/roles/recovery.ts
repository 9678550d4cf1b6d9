/**
 * The roles of `cluster recover` (controller/src/recovery):
 *
 * - `static-pods`: parks (or re-activates) the kube-apiserver static pod; parking waits until
 *   nothing listens on 6443 so no API server writes through the restore (killing one still
 *   listening {@link PARK_KILL_AFTER_MS} after its manifest moved).
 * - `etcd-stop`: unregisters the etcd component (its supervisor would restart it), stops and
 *   disables etcd.service. Unlike `etcd-wipe`, the data stays: the restore keeps it renamed.
 *   The etcd role enables the unit again when it starts the restored member.
 * - `etcd-restore`: etcdutl from the mirror's etcd artifact (3.5 or later), then one `etcd_restore`
 *   task — the snapshot restore, the set-aside of a member that rejoins as a learner, or the
 *   no-quorum check alone. The agent re-checks everything (etcd-restore-guard.ts).
 * - `etcd-data`: the agent's `etcd_data` guard alone: `require` (the member --from-member keeps
 *   holds etcd data; read-only, run before anything is stopped).
 * - `kubelet-restart`: restarts kubelet.service once the restored API answers (a kubelet registers
 *   its Node once per process; see recovery/plan.ts).
 */
import { Type } from '@sinclair/typebox';
import { ETCD_PATH_RULES } from './etcd.js';
import { checkPathVar } from './safe-vars.js';
import { artifactTask, bareVersion, task, unregisterComponentTask } from './tasks.js';
import type { RoleDefinition } from './types.js';

const Url = Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 });
const Path = (def: string) => Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: def });

/**
 * How long a parked kube-apiserver gets to end by itself before the agent kills it: a healthy one
 * stops in 1–2 s; one whose etcd lost quorum never finishes its graceful shutdown, and the kubelet
 * would kill it only after the pod's 30 s grace — 30 s of every recovery's RTO (bench/recover-rto.ts).
 */
export const PARK_KILL_AFTER_MS = 5_000;

const StaticPodsVars = Type.Object({ state: Type.Union([Type.Literal('parked'), Type.Literal('active')]) }, { additionalProperties: false });

/** The static-pods role. */
export const staticPodsRole: RoleDefinition<typeof StaticPodsVars> = {
  name: 'static-pods',
  description: 'park (stop) or re-activate the kube-apiserver static pod by moving its manifest (disaster recovery)',
  vars: StaticPodsVars,
  render({ vars }) {
    const parked = vars.state === 'parked';
    return {
      tasks: [
        task(
          parked ? 'Park kube-apiserver (kubelet stops it)' : 'Re-activate kube-apiserver',
          'static_pod',
          { name: 'kube-apiserver', state: vars.state, ...(parked ? { waitPortClosed: 6443, timeoutMs: 120_000, killAfterMs: PARK_KILL_AFTER_MS } : {}) },
        ),
      ],
      handlers: [],
    };
  },
};

const EtcdStopVars = Type.Object({}, { additionalProperties: false });

/** The etcd-stop role. */
export const etcdStopRole: RoleDefinition<typeof EtcdStopVars> = {
  name: 'etcd-stop',
  description: 'stop and disable etcd, unregistered from supervision; its data stays (disaster recovery)',
  vars: EtcdStopVars,
  render() {
    return {
      tasks: [
        unregisterComponentTask('etcd'),
        task('Stop and disable etcd.service', 'systemd', { unit: 'etcd.service', state: 'stopped', enabled: false }),
      ],
      handlers: [],
    };
  },
};

const KubeletRestartVars = Type.Object({}, { additionalProperties: false });

/** The kubelet-restart role. */
export const kubeletRestartRole: RoleDefinition<typeof KubeletRestartVars> = {
  name: 'kubelet-restart',
  description: 'restart the kubelet so it registers its Node against restored data (disaster recovery)',
  vars: KubeletRestartVars,
  render() {
    return { tasks: [task('Restart kubelet (registers its Node again)', 'systemd', { unit: 'kubelet.service', state: 'restarted' })], handlers: [] };
  },
};

const EtcdRestoreVars = Type.Object(
  {
    action: Type.Union([Type.Literal('restore'), Type.Literal('set-aside'), Type.Literal('assert-no-quorum')]),
    /** etcd version whose archive provides etcdutl (3.5 or later). */
    version: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' })),
    restoreId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
    name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' })),
    initialCluster: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+=https://[^,\\s]+(,[A-Za-z0-9._-]+=https://[^,\\s]+)*$', maxLength: 4096 })),
    peerUrls: Type.Optional(Type.Array(Url, { minItems: 1, maxItems: 4 })),
    initialClusterToken: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' })),
    snapshot: Type.Optional(
      Type.Object(
        {
          cluster: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
          id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
          sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
          size: Type.Integer({ minimum: 1, maximum: 64 * 1024 ** 3 }),
        },
        { additionalProperties: false },
      ),
    ),
    bumpRevision: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e15 })),
    endpoints: Type.Array(Url, { minItems: 1, maxItems: 9 }),
    dataDir: Path('/var/lib/etcd'),
    binDir: Path('/usr/local/bin'),
  },
  { additionalProperties: false },
);

const EtcdDataVars = Type.Object({ action: Type.Literal('require', { default: 'require' }), dataDir: Path('/var/lib/etcd') }, { additionalProperties: false });

/** The etcd-data role. */
export const etcdDataRole: RoleDefinition<typeof EtcdDataVars> = {
  name: 'etcd-data',
  description: "check that this host's etcd member still has its data (cluster recover --from-member); changes nothing",
  vars: EtcdDataVars,
  render({ host, vars, problem }) {
    checkPathVar(problem, '/vars/dataDir', vars.dataDir, ETCD_PATH_RULES.dataDir);
    return { tasks: [task(`Require etcd data in ${vars.dataDir}/member`, 'etcd_data', { action: 'require', member: host.name, dataDir: vars.dataDir })], handlers: [] };
  },
};

/** The etcd-restore role. */
export const etcdRestoreRole: RoleDefinition<typeof EtcdRestoreVars> = {
  name: 'etcd-restore',
  description: 'restore an etcd member from a verified snapshot (bump-revision, mark-compacted), or set its data aside; refused while the old cluster has quorum',
  vars: EtcdRestoreVars,
  render({ host, vars, artifact, problem }) {
    checkPathVar(problem, '/vars/dataDir', vars.dataDir, ETCD_PATH_RULES.dataDir);
    checkPathVar(problem, '/vars/binDir', vars.binDir, ETCD_PATH_RULES.binDir);
    if (vars.action === 'restore') {
      for (const field of ['name', 'initialCluster', 'peerUrls', 'snapshot'] as const) {
        if (vars[field] === undefined) problem(`/vars/${field}`, 'required for action restore');
      }
    }
    const tasks = [];
    if (vars.action === 'restore') {
      const etcd = artifact('etcd', vars.version);
      const dir = `etcd-v${bareVersion(etcd.version)}-linux-${host.arch}`;
      tasks.push(artifactTask('Install etcdutl', etcd, [{ from: `${dir}/etcdutl`, to: `${vars.binDir}/etcdutl`, mode: '0755' }]));
    }
    const { version: _v, binDir: _b, ...args } = vars;
    const titles = { restore: `Restore etcd member ${vars.name ?? host.name} from snapshot ${vars.snapshot?.id ?? '?'}`, 'set-aside': `Set ${vars.dataDir} aside (kept)`, 'assert-no-quorum': 'Check the old etcd cluster has no quorum' };
    tasks.push(task(titles[vars.action], 'etcd_restore', { ...args, timeoutMs: 30 * 60_000 }));
    // Set aside on purpose: the member rejoins as a new learner, which the etcd_data guard must allow.
    if (vars.action === 'set-aside') tasks.push(task('Forget the etcd member marker (data set aside on purpose)', 'etcd_data', { action: 'forget', member: vars.name ?? host.name, dataDir: vars.dataDir }));
    return { tasks, handlers: [] };
  },
};
