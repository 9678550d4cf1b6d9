import { type Static, Type } from '@sinclair/typebox';
import { ImageIdSchema, ImageRefSchema } from '../images.js';

const AbsPath = Type.String({ pattern: '^/[^\\0]*$', maxLength: 4096 });
const Mode = Type.String({ pattern: '^0?[0-7]{3,4}$', description: 'octal file mode, e.g. "0644"' });
const Owner = Type.String({ pattern: '^[a-z_][a-z0-9_-]{0,31}$|^[0-9]+$', maxLength: 32 });
const UnitName = Type.String({ pattern: '^[A-Za-z0-9@._:-]+\\.(service|socket|timer|target|mount|path)$', maxLength: 256 });
const Sha256 = Type.String({ pattern: '^[0-9a-f]{64}$' });

/** Module arguments, by module name. Each module validates these before it does anything. */
export const ModuleArgsSchemas = {
  /** Write a file with exact content (atomic, mode/owner, managed-by header, diff). */
  file: Type.Object(
    {
      path: AbsPath,
      content: Type.String({ maxLength: 1024 * 1024 }),
      mode: Type.Optional(Mode),
      owner: Type.Optional(Owner),
      group: Type.Optional(Owner),
      /** Comment prefix for the managed-by header line ('#' default; null = no header, e.g. JSON). */
      headerComment: Type.Optional(Type.Union([Type.String({ maxLength: 8 }), Type.Null()])),
      /** Overwrite a file that exists without our managed-by header. */
      force: Type.Optional(Type.Boolean()),
      state: Type.Optional(Type.Union([Type.Literal('present'), Type.Literal('absent')])),
    },
    { additionalProperties: false },
  ),
  /** Like file, but `content` is a template rendered with `vars` ({{ name }} placeholders, no code). */
  template: Type.Object(
    {
      path: AbsPath,
      template: Type.String({ maxLength: 1024 * 1024 }),
      vars: Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Type.Union([Type.String(), Type.Number(), Type.Boolean()])),
      mode: Type.Optional(Mode),
      owner: Type.Optional(Owner),
      group: Type.Optional(Owner),
      headerComment: Type.Optional(Type.Union([Type.String({ maxLength: 8 }), Type.Null()])),
      force: Type.Optional(Type.Boolean()),
    },
    { additionalProperties: false },
  ),
  directory: Type.Object(
    {
      path: AbsPath,
      mode: Type.Optional(Mode),
      owner: Type.Optional(Owner),
      group: Type.Optional(Owner),
      state: Type.Optional(Type.Union([Type.Literal('present'), Type.Literal('absent')])),
    },
    { additionalProperties: false },
  ),
  /** Unit file and drop-ins, daemon-reload only when needed, then the wanted state. */
  systemd: Type.Object(
    {
      unit: UnitName,
      /** Full unit file content to install under /etc/systemd/system (optional: manage an existing unit). */
      content: Type.Optional(Type.String({ maxLength: 256 * 1024 })),
      dropIns: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Za-z0-9._-]+\\.conf$' }), Type.String({ maxLength: 64 * 1024 }))),
      enabled: Type.Optional(Type.Boolean()),
      /** `try-restarted`: restart only if running (a handler for a unit that may not be up yet). */
      state: Type.Optional(
        Type.Union([Type.Literal('started'), Type.Literal('stopped'), Type.Literal('restarted'), Type.Literal('try-restarted')]),
      ),
    },
    { additionalProperties: false },
  ),
  /** Persisted under /etc/sysctl.d/<file> and applied now. */
  sysctl: Type.Object(
    {
      name: Type.String({ pattern: '^[a-z0-9_.-]+(/[a-z0-9_.-]+)*$|^[a-z0-9_]+(\\.[a-z0-9_-]+)+$', maxLength: 256 }),
      value: Type.String({ maxLength: 256 }),
      file: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+\\.conf$' })),
    },
    { additionalProperties: false },
  ),
  /** Loaded now and persisted under /etc/modules-load.d. */
  kmod: Type.Object({ name: Type.String({ pattern: '^[a-z0-9_-]{1,64}$' }), state: Type.Optional(Type.Union([Type.Literal('present'), Type.Literal('absent')])) }, { additionalProperties: false }),
  /** Swap off now and swap lines commented out of /etc/fstab. */
  swap: Type.Object({ state: Type.Literal('off') }, { additionalProperties: false }),
  /** Fetch from the controller mirror, stream-verify sha256, unpack, install binaries atomically. */
  artifact: Type.Object(
    {
      name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' }),
      version: Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' }),
      arch: Type.String({ pattern: '^[a-z0-9_]{1,16}$' }),
      sha256: Sha256,
      /** Files to install from the archive: source path inside it → absolute destination. */
      install: Type.Array(Type.Object({ from: Type.String({ maxLength: 1024 }), to: AbsPath, mode: Type.Optional(Mode) }), { minItems: 1, maxItems: 64 }),
    },
    { additionalProperties: false },
  ),
  /**
   * A container image from the mirror (a docker-archive artifact, shared/src/images.ts) imported
   * into containerd's `k8s.io` namespace, where kubelet looks: downloaded and sha256-verified like
   * `artifact`, refused unless its tag is `ref` and its config digest `id`, and done when containerd
   * already has `ref` with that ID.
   */
  image: Type.Object(
    {
      name: Type.String({ pattern: '^image-[a-z0-9][a-z0-9._-]{0,57}$' }),
      version: Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' }),
      arch: Type.String({ pattern: '^[a-z0-9_]{1,16}$' }),
      sha256: Sha256,
      ref: ImageRefSchema,
      id: ImageIdSchema,
      /** containerd's socket (default /run/containerd/containerd.sock); under /run/containerd only. */
      address: Type.Optional(AbsPath),
      /** The ctr binary the containerd role installed. */
      ctr: Type.Optional(Type.Union([Type.Literal('/usr/local/bin/ctr'), Type.Literal('/usr/bin/ctr')])),
    },
    { additionalProperties: false },
  ),
  /** A command as argv (never a shell string), only from the agent's allow-list, with guards. */
  command: Type.Object(
    {
      argv: Type.Array(Type.String({ maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
      /** Skip when this path exists. */
      creates: Type.Optional(AbsPath),
      /** Skip unless this path exists. */
      removes: Type.Optional(AbsPath),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 100, maximum: 3_600_000 })),
    },
    { additionalProperties: false },
  ),
  /**
   * One etcd membership change, through the local member's client URL with the host's etcd client
   * certificate. Members are identified by their peer URLs (a member added but not yet started has no
   * name). Every change passes the quorum guard first; see agent/src/etcd/quorum.ts.
   */
  etcd_member: Type.Object(
    {
      /** `add`: as a learner (no quorum effect); `promote`: learner → voter once caught up; `remove`. */
      action: Type.Union([Type.Literal('add'), Type.Literal('promote'), Type.Literal('remove')]),
      name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }),
      peerUrls: Type.Array(Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 }), { minItems: 1, maxItems: 4 }),
      /** Client URLs to talk to (first that answers); default the local member, https://127.0.0.1:2379. */
      endpoints: Type.Optional(Type.Array(Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 }), { minItems: 1, maxItems: 8 })),
      caFile: Type.Optional(AbsPath),
      certFile: Type.Optional(AbsPath),
      keyFile: Type.Optional(AbsPath),
      /** Deadline of the whole change, including waiting for a learner to catch up (default 60 s). */
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 600_000 })),
    },
    { additionalProperties: false },
  ),
  /**
   * A kubeadm static pod moved out of the kubelet's manifest directory (`parked`: the kubelet stops
   * the pod) or back (`active`), by rename within /etc/kubernetes. Only the control-plane
   * components; the disaster recovery parks the API servers while etcd is restored.
   */
  static_pod: Type.Object(
    {
      name: Type.Union([Type.Literal('kube-apiserver'), Type.Literal('kube-controller-manager'), Type.Literal('kube-scheduler')]),
      state: Type.Union([Type.Literal('parked'), Type.Literal('active')]),
      /** After parking, wait until nothing listens on this local port any more (the API server's 6443). */
      waitPortClosed: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 600_000 })),
      /**
       * With waitPortClosed: when the port is still open this long after the manifest was parked,
       * SIGKILL the process named `name` that listens on it (the kubelet would only after the pod's
       * 30 s grace; an API server whose etcd has no quorum does not finish its shutdown before).
       */
      killAfterMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 600_000 })),
    },
    { additionalProperties: false },
  ),
  /**
   * Disaster recovery of one etcd member (controller/src/recovery): `restore` downloads the
   * cluster's snapshot from the controller (sha256 verified before use), runs `etcdutl snapshot
   * restore --bump-revision --mark-compacted` into a new directory beside the data dir and swaps it
   * in atomically, keeping the old directory renamed; `set-aside` only renames the data dir away
   * (a member that rejoins as a learner); `assert-no-quorum` changes nothing and fails while the
   * old cluster still serves with quorum. Every action refuses while the local etcd runs or any
   * endpoint answers with a leader. The agent builds etcdutl's argv itself from these fields.
   */
  etcd_restore: Type.Object(
    {
      action: Type.Union([Type.Literal('restore'), Type.Literal('set-aside'), Type.Literal('assert-no-quorum')]),
      /** The recovery operation's id: names the kept directory and makes a repeated task a no-op. */
      restoreId: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
      /** Member name (`--name`); restore only. */
      name: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' })),
      /** `name=https://addr:2380,…`, every member of the new cluster; restore only. */
      initialCluster: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+=https://[^,\\s]+(,[A-Za-z0-9._-]+=https://[^,\\s]+)*$', maxLength: 4096 })),
      /** This member's peer URLs (`--initial-advertise-peer-urls`); restore only. */
      peerUrls: Type.Optional(Type.Array(Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 }), { minItems: 1, maxItems: 4 })),
      initialClusterToken: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$' })),
      /** The snapshot to restore, as the controller's snapshot store knows it; restore only. */
      snapshot: Type.Optional(
        Type.Object(
          {
            cluster: Type.String({ pattern: '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$' }),
            id: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
            sha256: Sha256,
            /** Bytes; the download is refused past it. */
            size: Type.Integer({ minimum: 1, maximum: 64 * 1024 ** 3 }),
          },
          { additionalProperties: false },
        ),
      ),
      /** `--bump-revision`: added to the snapshot's revision so watchers never see it go back. */
      bumpRevision: Type.Optional(Type.Integer({ minimum: 1, maximum: 1e15 })),
      /** The member's data dir (default /var/lib/etcd); the kept and staging dirs are its siblings. */
      dataDir: Type.Optional(AbsPath),
      /** Client URLs probed before anything is touched: the local member first, then the old peers. */
      endpoints: Type.Array(Type.String({ pattern: '^https://[^\\s,/]+$', maxLength: 300 }), { minItems: 1, maxItems: 9 }),
      caFile: Type.Optional(AbsPath),
      certFile: Type.Optional(AbsPath),
      keyFile: Type.Optional(AbsPath),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    },
    { additionalProperties: false },
  ),
  /**
   * The guard against a silent new etcd cluster (issue 13): an etcd member whose data directory is
   * gone must not be started again as if the host were new. `prepare` keeps an existing
   * `<dataDir>/member`, and creates one (0700) only on a host that never had a member here; where
   * the marker `<dataDir>.ballast-member.json` says it had one, the data was lost and the task fails
   * (BALLAST_ERR_ETCD_DATA_LOST) instead. `require` fails unless the member directory holds etcd
   * data (a WAL or a db): the member a `cluster recover --from-member` keeps. `forget` removes the
   * marker: the data was removed or set aside on purpose (reset, rollback, recovery).
   */
  etcd_data: Type.Object(
    {
      action: Type.Union([Type.Literal('prepare'), Type.Literal('require'), Type.Literal('forget')]),
      /** The member's name (the host's), for the marker and the messages. */
      member: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' }),
      /** Default /var/lib/etcd; under /var/lib/etcd only. */
      dataDir: Type.Optional(AbsPath),
    },
    { additionalProperties: false },
  ),
  /**
   * `kubeadm init|join|reset` with a config file (written 0600), guarded so it runs at most once:
   * init is done when /etc/kubernetes/admin.conf exists, join when /etc/kubernetes/kubelet.conf
   * exists, reset when neither exists nor the static pod manifests.
   */
  kubeadm: Type.Object(
    {
      action: Type.Union([Type.Literal('init'), Type.Literal('join'), Type.Literal('reset')]),
      /** kubeadm's YAML config (InitConfiguration/ClusterConfiguration or JoinConfiguration); init and join only. */
      config: Type.Optional(Type.String({ maxLength: 256 * 1024 })),
      configPath: Type.Optional(AbsPath),
      binary: Type.Optional(Type.Union([Type.Literal('/usr/bin/kubeadm'), Type.Literal('/usr/local/bin/kubeadm')])),
      skipPhases: Type.Optional(Type.Array(Type.String({ pattern: '^[a-z][a-z0-9/-]{0,63}$' }), { maxItems: 16 })),
      ignorePreflightErrors: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), { maxItems: 32 })),
      timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 3_600_000 })),
    },
    { additionalProperties: false },
  ),
  /**
   * Read-only checks before a host joins a cluster; fails listing every problem at once. Changes
   * nothing, so it runs the same in check mode.
   */
  preflight: Type.Object(
    {
      /** Minimum kernel version, e.g. "4.19". */
      minKernel: Type.Optional(Type.String({ pattern: '^[0-9]+(\\.[0-9]+){0,2}$' })),
      /**
       * TCP ports that must be free (nothing listening). `unlessExists`: a port in use is fine when
       * that path exists — the service Ballast installed there on an earlier run (a second
       * `cluster create` must pass preflight on hosts it already set up).
       */
      freePorts: Type.Optional(
        Type.Array(
          Type.Union([
            Type.Integer({ minimum: 1, maximum: 65535 }),
            Type.Object({ port: Type.Integer({ minimum: 1, maximum: 65535 }), unlessExists: AbsPath }, { additionalProperties: false }),
          ]),
          { maxItems: 32 },
        ),
      ),
      /** Path → minimum free bytes on its filesystem. */
      minFreeBytes: Type.Optional(Type.Record(AbsPath, Type.Integer({ minimum: 0 }), { maxProperties: 8 })),
      /** Require the unified cgroup v2 hierarchy. */
      cgroupV2: Type.Optional(Type.Boolean()),
      /** Fail when swap is on (os-prep turns it off; set false when os-prep runs after preflight). */
      noSwap: Type.Optional(Type.Boolean()),
      minMemoryBytes: Type.Optional(Type.Integer({ minimum: 0 })),
      minCpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    },
    { additionalProperties: false },
  ),
};

/** A module's name. */
export type ModuleName = keyof typeof ModuleArgsSchemas;
/** The arguments of module M. */
export type ModuleArgs<M extends ModuleName> = Static<(typeof ModuleArgsSchemas)[M]>;
