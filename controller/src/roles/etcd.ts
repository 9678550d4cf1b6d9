/**
 * `etcd`: etcd + etcdctl from the mirror, a 0700 data dir, mTLS material, an environment file
 * (etcd reads ETCD_* variables), the systemd unit, a restart handler and the component file whose
 * probe is `/health` on the client URL with a client certificate. Single member for now: the
 * bootstrap operation adds members one at a time and passes `initialCluster`/`existing` itself.
 */
import { type Static, Type } from '@sinclair/typebox';
import { isIP } from 'node:net';
import { file, tree } from '../../../shared/src/tasks/safety.js';
import { checkPathVar } from './safe-vars.js';
import { artifactTask, bareVersion, componentTask, directoryTask, task } from './tasks.js';
import type { RoleDefinition, RoleTask } from './types.js';
import { secret } from './vars.js';

const Path = (def: string) => Type.String({ pattern: '^/[A-Za-z0-9._/@+-]*$', maxLength: 512, default: def });
const Pem = Type.String({ pattern: '^-----BEGIN [A-Z0-9 ]+-----\\r?\\n[\\s\\S]+-----END [A-Z0-9 ]+-----\\s*$', maxLength: 64 * 1024 });
const MemberName = Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$' });
const Port = (def: number) => Type.Integer({ minimum: 1, maximum: 65535, default: def });

const EtcdVars = Type.Object(
  {
    version: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._+-]{1,64}$' })),
    /** Member name; the host name when absent. */
    name: Type.Optional(MemberName),
    /** Address peers and clients reach this member at; the host's address when absent. */
    advertiseAddress: Type.Optional(Type.String({ pattern: '^[0-9A-Za-z.:-]{1,253}$' })),
    clientPort: Port(2379),
    peerPort: Port(2380),
    /** Plain-HTTP metrics on localhost only. */
    metricsPort: Port(2381),
    dataDir: Path('/var/lib/etcd'),
    configDir: Path('/etc/etcd'),
    binDir: Path('/usr/local/bin'),
    /** `name=https://addr:2380,…`; this member alone when absent (a new single-member cluster). */
    initialCluster: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9._-]+=https://[^,\\s]+(,[A-Za-z0-9._-]+=https://[^,\\s]+)*$', maxLength: 4096 })),
    initialClusterState: Type.Union([Type.Literal('new'), Type.Literal('existing')], { default: 'new' }),
    initialClusterToken: Type.String({ pattern: '^[A-Za-z0-9._-]{1,128}$', default: 'ballast-etcd' }),
    /** PEM material; the bootstrap operation issues it from the controller's etcd CA. */
    tls: Type.Object(
      {
        caCert: Pem,
        serverCert: Pem,
        serverKey: secret(Pem),
        peerCert: Pem,
        peerKey: secret(Pem),
        /** For the health probe; the server pair (which carries clientAuth) when absent. */
        clientCert: Type.Optional(Pem),
        clientKey: Type.Optional(secret(Pem)),
      },
      { additionalProperties: false },
    ),
    /**
     * false: install only — binaries, certificates, configuration and the unit file, enabled (so
     * the later start is only a start) but not started and not registered for supervision; a
     * member that is already running picks up changed files through a try-restart. (A host that
     * reboots before its member is added starts etcd early: it cannot join until added, and
     * systemd's Restart= retries it until then.) The bootstrap installs every
     * member this way in the hosts phase, so its etcd phase only adds, starts and promotes.
     */
    start: Type.Boolean({ default: true }),
    /**
     * true: the member's data must already be there (refused otherwise, nothing created) — the
     * member `cluster recover --from-member` keeps and starts with --force-new-cluster.
     */
    requireData: Type.Boolean({ default: false }),
    /**
     * false: no member-directory task at all — `cluster recover --from-snapshot` installs etcd
     * before its restore writes the member directory (the start after it prepares as usual).
     */
    prepareMember: Type.Boolean({ default: true }),
    /** Further ETCD_* settings (e.g. ETCD_HEARTBEAT_INTERVAL); cannot override the ones above. */
    extraEnv: Type.Record(Type.String({ pattern: '^ETCD_[A-Z0-9_]{1,64}$' }), Type.String({ pattern: '^[^\\n"]{0,1024}$' }), {
      default: {},
      maxProperties: 64,
    }),
  },
  { additionalProperties: false },
);
type EtcdVarsT = Static<typeof EtcdVars>;

/** Where each path var may point: data under /var/lib/etcd, fixed configuration and install directories. */
export const ETCD_PATH_RULES = {
  dataDir: [tree('/var/lib/etcd')],
  configDir: [file('/etc/etcd')],
  binDir: [file('/usr/local/bin'), file('/usr/bin')],
} as const;

/** The handler notified by binary, certificate and configuration changes. */
export const RESTART_ETCD = 'restart etcd';

/** An address inside a URL: IPv6 in brackets; `::ffff:` mapped IPv4 as plain IPv4. */
export function urlHost(address: string): string {
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return isIP(plain) === 6 ? `[${plain}]` : plain;
}

/** The ETCD_* environment of a member. */
export function etcdEnv(v: EtcdVarsT, member: { name: string; host: string }): Record<string, string> {
  const pki = `${v.configDir}/pki`;
  const peerUrl = `https://${member.host}:${v.peerPort}`;
  const base: Record<string, string> = {
    ETCD_NAME: member.name,
    ETCD_DATA_DIR: v.dataDir,
    ETCD_LISTEN_CLIENT_URLS: `https://${member.host}:${v.clientPort},https://127.0.0.1:${v.clientPort}`,
    ETCD_ADVERTISE_CLIENT_URLS: `https://${member.host}:${v.clientPort}`,
    ETCD_LISTEN_PEER_URLS: peerUrl,
    ETCD_INITIAL_ADVERTISE_PEER_URLS: peerUrl,
    ETCD_INITIAL_CLUSTER: v.initialCluster ?? `${member.name}=${peerUrl}`,
    ETCD_INITIAL_CLUSTER_STATE: v.initialClusterState,
    ETCD_INITIAL_CLUSTER_TOKEN: v.initialClusterToken,
    ETCD_LISTEN_METRICS_URLS: `http://127.0.0.1:${v.metricsPort}`,
    ETCD_CLIENT_CERT_AUTH: 'true',
    ETCD_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_CERT_FILE: `${pki}/server.crt`,
    ETCD_KEY_FILE: `${pki}/server.key`,
    ETCD_PEER_CLIENT_CERT_AUTH: 'true',
    ETCD_PEER_TRUSTED_CA_FILE: `${pki}/ca.crt`,
    ETCD_PEER_CERT_FILE: `${pki}/peer.crt`,
    ETCD_PEER_KEY_FILE: `${pki}/peer.key`,
    // Off by default in etcd 3.4 (on from 3.5): without it a member returning from a partition
    // forces a leader election, and every lease holder — the VIP's — misses keep-alives meanwhile.
    ETCD_PRE_VOTE: 'true',
  };
  // The VIP election rewrites one small key 4 times a second (agent/src/vip/README.md). With a
  // Kubernetes API server on top, it compacts every 5 min; before there is one (bootstrap) or
  // without one, this keeps the history bounded. extraEnv may override it.
  const defaults = { ETCD_AUTO_COMPACTION_MODE: 'periodic', ETCD_AUTO_COMPACTION_RETENTION: '1h' };
  return { ...defaults, ...v.extraEnv, ...base };
}

/**
 * etcd's unit: Type=notify (etcd signals readiness once it has joined the cluster).
 *
 * `AssertPathExists=<dataDir>/member`: etcd starts only where a member's data is, or where the role
 * has just prepared a fresh one (it creates the empty `member` directory; etcd decides from the
 * WAL files whether to bootstrap or join). Found on real Kubernetes: after a member's data dir was
 * destroyed, systemd's Restart= and the supervisor started etcd again on an empty dir with the
 * env file's `ETCD_INITIAL_CLUSTER_STATE=new` — the init member bootstrapped a new, **empty**
 * one-member cluster, which its kube-apiserver served as the cluster's state. A member whose data
 * is gone must stay down until a person (or `cluster recover`/`node replace`) acts; the failed
 * assertion is what the supervisor then reports.
 *
 * `TimeoutStopSec=30`: a member cut off from its peers (a partitioned host fencing itself) got
 * SIGTERM, logged that it was stopping, and never exited — systemd's default 90 s passed before the
 * SIGKILL, so the self-fence kept etcd running 90 s past its deadline (replace lab, case 5). etcd is
 * crash-safe (fsynced WAL), and a healthy member stops in about a second (a leader hands over
 * leadership first); 30 s is the grace kubeadm's own etcd pod gets.
 */
export function etcdUnit(v: { binDir: string; configDir: string; dataDir: string }): string {
  return `[Unit]
Description=etcd key-value store
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target
AssertPathExists=${v.dataDir}/member

[Service]
Type=notify
EnvironmentFile=${v.configDir}/etcd.env
ExecStart=${v.binDir}/etcd
Restart=always
RestartSec=5
LimitNOFILE=65536
TimeoutStartSec=120
TimeoutStopSec=30

[Install]
WantedBy=multi-user.target
`;
}

/** The etcd role. */
export const etcdRole: RoleDefinition<typeof EtcdVars> = {
  name: 'etcd',
  description: 'etcd + etcdctl, 0700 data dir, mTLS files, env file, unit, /health probe',
  vars: EtcdVars,
  render({ host, vars, artifact, problem }) {
    for (const [name, rules] of Object.entries(ETCD_PATH_RULES)) checkPathVar(problem, `/vars/${name}`, vars[name as keyof typeof ETCD_PATH_RULES], rules);
    const restart = { notify: [RESTART_ETCD] };
    const address = vars.advertiseAddress ?? host.address;
    if (address === null) problem('/vars/advertiseAddress', 'required: the controller does not know this host’s address');
    const member = { name: vars.name ?? host.name, host: urlHost(address ?? '127.0.0.1') };
    for (const key of Object.keys(vars.extraEnv)) {
      if (key in etcdEnv({ ...vars, extraEnv: {} }, member)) problem(`/vars/extraEnv/${key}`, 'is set by the role; use the dedicated variable');
    }
    if (vars.initialCluster !== undefined && !vars.initialCluster.split(',').some((m) => m.startsWith(`${member.name}=`))) {
      problem('/vars/initialCluster', `must include this member ("${member.name}=https://…")`);
    }
    if ((vars.tls.clientCert === undefined) !== (vars.tls.clientKey === undefined)) {
      problem('/vars/tls', 'clientCert and clientKey go together');
    }
    const pki = `${vars.configDir}/pki`;
    const etcd = artifact('etcd', vars.version);
    const dir = `etcd-v${bareVersion(etcd.version)}-linux-${host.arch}`;
    const tasks: RoleTask[] = [
      artifactTask(
        'Install etcd and etcdctl',
        etcd,
        ['etcd', 'etcdctl'].map((bin) => ({ from: `${dir}/${bin}`, to: `${vars.binDir}/${bin}`, mode: '0755' })),
        restart,
      ),
      task(`Create data directory ${vars.dataDir}`, 'directory', { path: vars.dataDir, mode: '0700', owner: 'root', group: 'root' }),
      // The unit asserts it (etcdUnit): only a role run prepares a member directory etcd may start
      // in, and never on a host whose member's data was lost (the agent's etcd_data guard).
      ...(vars.requireData
        ? [task(`Require etcd data in ${vars.dataDir}/member`, 'etcd_data', { action: 'require', member: member.name, dataDir: vars.dataDir })]
        : vars.prepareMember
          ? [task(`Prepare member directory ${vars.dataDir}/member`, 'etcd_data', { action: 'prepare', member: member.name, dataDir: vars.dataDir })]
          : []),
      directoryTask(vars.configDir),
      task(`Create directory ${pki}`, 'directory', { path: pki, mode: '0700', owner: 'root', group: 'root' }),
    ];
    const pem = (file: string, content: string, key: boolean): RoleTask =>
      task(`Write ${pki}/${file}`, 'file', { path: `${pki}/${file}`, content, mode: key ? '0600' : '0644' }, { ...restart, sensitive: key });
    tasks.push(
      pem('ca.crt', vars.tls.caCert, false),
      pem('server.crt', vars.tls.serverCert, false),
      pem('server.key', vars.tls.serverKey, true),
      pem('peer.crt', vars.tls.peerCert, false),
      pem('peer.key', vars.tls.peerKey, true),
    );
    const hasClient = vars.tls.clientCert !== undefined && vars.tls.clientKey !== undefined;
    if (hasClient) {
      tasks.push(pem('healthcheck-client.crt', vars.tls.clientCert ?? '', false), pem('healthcheck-client.key', vars.tls.clientKey ?? '', true));
    }
    const env = Object.entries(etcdEnv(vars, member))
      .map(([k, v]) => `${k}=${v}\n`)
      .join('');
    tasks.push(task(`Write ${vars.configDir}/etcd.env`, 'file', { path: `${vars.configDir}/etcd.env`, content: env, mode: '0644' }, restart));
    // The unit file (a change restarts a running member) apart from the start: starting a stopped
    // member must not also notify the restart handler, or a first start is a start and a restart.
    tasks.push(task('Install etcd.service', 'systemd', { unit: 'etcd.service', content: etcdUnit(vars), enabled: true }, restart));
    if (!vars.start) {
      // A stopped (or never started) member stays so; a running one restarts on changed files.
      return { tasks, handlers: [task(RESTART_ETCD, 'systemd', { unit: 'etcd.service', state: 'try-restarted' })] };
    }
    tasks.push(task('Start etcd.service', 'systemd', { unit: 'etcd.service', state: 'started' }));
    const client = hasClient ? 'healthcheck-client' : 'server';
    tasks.push(
      componentTask({
        name: 'etcd',
        unit: 'etcd.service',
        probe: {
          kind: 'etcd',
          url: `https://127.0.0.1:${vars.clientPort}/health`,
          caFile: `${pki}/ca.crt`,
          certFile: `${pki}/${client}.crt`,
          keyFile: `${pki}/${client}.key`,
        },
      }),
    );
    return { tasks, handlers: [task(RESTART_ETCD, 'systemd', { unit: 'etcd.service', state: 'restarted' })] };
  },
};
