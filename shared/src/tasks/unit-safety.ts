/**
 * What a systemd unit file or drop-in written by a task may say (issue 16: the agent is the last
 * line of defence). A unit is code: `ExecStart=/tmp/evil` runs as root on the next start, and so do
 * quieter directives — `BindPaths=/tmp/evil:/usr/local/bin/etcd` (bind-mounts over the allowed
 * binary), `RootDirectory=`, `Environment=LD_PRELOAD=…`, `ExecSearchPath=`. So the content is
 * checked against allow-lists, not deny-lists:
 *
 * - sections [Unit], [Service] and [Install] only, and in each only the keys listed below (those the
 *   roles' units use plus harmless neighbours: ordering, restart policy, limits);
 * - every `Exec…=` command must be one of the binaries the roles install (`BINARY_DIRS` ×
 *   `BINARY_NAMES`: containerd, etcd, kubelet …) or `modprobe` of allow-listed kernel modules, named
 *   by its absolute path, one command per line, no `%` specifiers or `$` in the path;
 * - `Environment=` may set only `KUBELET_*`, `ETCD_*`, `CONTAINERD_*` and Go runtime variables
 *   (never `LD_PRELOAD`); `EnvironmentFile=` only the files the roles use.
 *
 * Shared by the agent's `systemd` module (which refuses) and the security tests (which prove that
 * every unit a role renders passes).
 */
import { BINARY_DIRS, BINARY_NAMES, file, kmodAllowed, type PathRule, pathAllowed } from './safety.js';

/** Binaries an `Exec…=` line may run: those the roles install, in the directories they may go to. */
export const UNIT_EXEC_BINARIES: readonly string[] = BINARY_DIRS.flatMap((dir) => BINARY_NAMES.map((name) => `${dir}/${name}`));
/** modprobe (containerd's unit loads `overlay` first); its arguments must be allow-listed kernel modules. */
export const UNIT_MODPROBE = ['/sbin/modprobe', '/usr/sbin/modprobe'] as const;

/** Keys a unit may set, per section. Anything else is refused. */
export const UNIT_KEYS: Readonly<Record<string, readonly string[]>> = {
  Unit: [
    'Description', 'Documentation', 'After', 'Before', 'Wants', 'Requires', 'BindsTo', 'PartOf', 'Conflicts',
    'StartLimitIntervalSec', 'StartLimitInterval', 'StartLimitBurst', 'ConditionPathExists', 'AssertPathExists',
  ],
  Service: [
    'Type', 'ExecStartPre', 'ExecStart', 'ExecStartPost', 'ExecCondition', 'ExecReload', 'ExecStop', 'ExecStopPost',
    'Restart', 'RestartSec', 'TimeoutSec', 'TimeoutStartSec', 'TimeoutStopSec', 'StartLimitInterval', 'StartLimitIntervalSec',
    'StartLimitBurst', 'SuccessExitStatus', 'RestartPreventExitStatus', 'WatchdogSec', 'NotifyAccess', 'Delegate', 'KillMode',
    'KillSignal', 'LimitNOFILE', 'LimitNPROC', 'LimitCORE', 'LimitMEMLOCK', 'TasksMax', 'OOMScoreAdjust', 'CPUAccounting',
    'MemoryAccounting', 'Environment', 'EnvironmentFile',
  ],
  Install: ['WantedBy', 'RequiredBy'],
};

/** Environment files a unit may read: kubeadm's flags, the admin's kubelet overrides, etcd's settings. */
export const UNIT_ENVIRONMENT_FILES: readonly PathRule[] = [file('/var/lib/kubelet/kubeadm-flags.env'), file('/etc/default/kubelet'), file('/etc/etcd/etcd.env')];
/** Variable names `Environment=` may set. */
const ENV_NAME = /^(?:(?:KUBELET|ETCD|CONTAINERD)_[A-Z0-9_]+|GOMAXPROCS|GOGC|GOMEMLIMIT)$/;
/** Exec prefixes systemd knows that keep "run this binary": ignore failure, argv0, no substitution, privileges. `|` (run via a shell) is not one. */
const EXEC_PREFIX = /^[-@:+!]*/;

/** A refused unit line: which error code it earns and why. */
export interface UnitProblem {
  /** BALLAST_ERR_COMMAND_NOT_ALLOWED for an Exec line, BALLAST_ERR_UNSAFE_VALUE for anything else. */
  code: 'BALLAST_ERR_COMMAND_NOT_ALLOWED' | 'BALLAST_ERR_UNSAFE_VALUE';
  /** 1-based line of the (first physical line of the) directive. */
  line: number;
  message: string;
}

/** Logical lines of a unit file: comments and blanks dropped, `\` continuations joined. */
function logicalLines(content: string): { line: number; text: string }[] {
  const out: { line: number; text: string }[] = [];
  let pending: { line: number; text: string } | null = null;
  content.split('\n').forEach((raw, i) => {
    const text = raw.replace(/\r$/, '');
    if (pending === null && /^\s*([#;].*)?$/.test(text)) return;
    const joined: { line: number; text: string } = pending === null ? { line: i + 1, text } : { line: pending.line, text: `${pending.text} ${text.trim()}` };
    if (joined.text.endsWith('\\')) pending = { line: joined.line, text: joined.text.slice(0, -1) };
    else {
      pending = null;
      out.push(joined);
    }
  });
  if (pending !== null) out.push(pending);
  return out;
}

/** Why an `Exec…=` value is refused, or null. */
export function execProblem(value: string): string | null {
  const v = value.trim();
  if (v === '') return null; // `ExecStart=` resets the list (a drop-in replacing the command)
  const prefix = EXEC_PREFIX.exec(v)?.[0] ?? '';
  const words = v.slice(prefix.length).trim().split(/\s+/);
  const bin = words[0] ?? '';
  if (words.includes(';')) return 'one command per line (";" chains another command)';
  if (bin.startsWith('|')) return 'a command run through a shell ("|") is not allowed';
  if ((UNIT_MODPROBE as readonly string[]).includes(bin)) {
    const args = words.slice(prefix.includes('@') ? 2 : 1);
    const bad = args.filter((a) => !kmodAllowed(a));
    return args.length > 0 && bad.length === 0 ? null : `${bin} may only load allow-listed kernel modules (got ${JSON.stringify(args.join(' '))})`;
  }
  if (!UNIT_EXEC_BINARIES.includes(bin)) {
    return `runs ${JSON.stringify(bin.slice(0, 200))}, which is not a binary the roles install (${BINARY_NAMES.join(', ')} in ${BINARY_DIRS.join(', ')}) or modprobe`;
  }
  return null;
}

/** Strips one pair of surrounding double quotes (`Environment="A=b c"`). */
function unquote(s: string): string {
  return s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s;
}

function environmentProblem(value: string): string | null {
  // Assignments are space-separated, each possibly quoted; only the names matter.
  const names = [...value.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => unquote(m[0]).split('=')[0] ?? '');
  const bad = names.filter((n) => !ENV_NAME.test(n));
  return bad.length === 0 ? null : `sets ${bad.map((n) => JSON.stringify(n.slice(0, 64))).join(', ')}; only KUBELET_*, ETCD_*, CONTAINERD_* and Go runtime variables are allowed`;
}

/** Every problem of a unit file or drop-in (empty: it may be written). */
export function unitProblems(content: string): UnitProblem[] {
  const problems: UnitProblem[] = [];
  let section: string | null = null;
  for (const { line, text } of logicalLines(content)) {
    const header = /^\s*\[([^\]]*)\]\s*$/.exec(text);
    if (header !== null) {
      section = header[1] ?? '';
      if (!(section in UNIT_KEYS)) problems.push({ code: 'BALLAST_ERR_UNSAFE_VALUE', line, message: `section [${section.slice(0, 64)}] is not allowed (only ${Object.keys(UNIT_KEYS).map((s) => `[${s}]`).join(', ')})` });
      continue;
    }
    const kv = /^\s*([A-Za-z0-9]+)\s*=(.*)$/.exec(text);
    if (kv === null) {
      problems.push({ code: 'BALLAST_ERR_UNSAFE_VALUE', line, message: 'not a "Key=value" line' });
      continue;
    }
    const key = kv[1] ?? '';
    const value = (kv[2] ?? '').trim();
    if (section === null) {
      problems.push({ code: 'BALLAST_ERR_UNSAFE_VALUE', line, message: `${key}= before any [Section]` });
      continue;
    }
    if (!(section in UNIT_KEYS)) continue; // the section is already refused
    if (!UNIT_KEYS[section]!.includes(key)) {
      problems.push({ code: 'BALLAST_ERR_UNSAFE_VALUE', line, message: `${key}= in [${section}] is not in the allow-list of unit keys` });
      continue;
    }
    let why: string | null = null;
    if (key.startsWith('Exec')) {
      why = execProblem(value);
      if (why !== null) problems.push({ code: 'BALLAST_ERR_COMMAND_NOT_ALLOWED', line, message: `${key}= ${why}` });
      continue;
    }
    if (key === 'Environment') why = environmentProblem(value);
    else if (key === 'EnvironmentFile' && value !== '') {
      const path = value.replace(/^-/, '');
      if (!pathAllowed(path, UNIT_ENVIRONMENT_FILES)) why = `reads ${JSON.stringify(path.slice(0, 200))}; only ${UNIT_ENVIRONMENT_FILES.map((r) => r.path).join(', ')}`;
    }
    if (why !== null) problems.push({ code: 'BALLAST_ERR_UNSAFE_VALUE', line, message: `${key}= ${why}` });
  }
  return problems;
}
