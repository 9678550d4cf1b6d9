/**
 * Fencing: before an unreachable host's etcd member is removed or its pods released, the host must
 * certainly be off — an "unreachable" host may only be partitioned, and one that comes back with
 * etcd, kubelet and the VIP running next to its replacement is the split brain this step exists to
 * prevent. A {@link FencePort} confirms it; the operation never moves on before it did, and a
 * failure pauses the operation with the reason (BALLAST_ERR_FENCE_FAILED).
 *
 * Per-host agents (`<data dir>/fencing.yaml`, {@link FencingConfigSchema}):
 * - `redfish`: POST ComputerSystem.Reset {ResetType: ForceOff}, then poll PowerState until `Off`
 *   — at most 20 s a try, 60 s in all (redfish.ts; proven against sushy-tools);
 * - `command`: an argv run on the controller (ipmitool, a PDU's CLI, the lab's power switch) with
 *   BALLAST_FENCE_HOST set; exit 0 within its timeout means the host is off. Never a shell
 *   (fence-command.ts: its own process group, killed whole at the timeout; output bounded).
 * - no agent, but the host's agent fences itself (an etcd member; its facts carry `selfFence`):
 *   the fence step waits until its self-fence deadline has certainly passed (self-fence-wait.ts,
 *   the rule and why it is safe; agent/src/self-fence.ts, how the agent fences itself);
 * - otherwise: only an operator's explicit confirmation that the host is powered off (the request's
 *   `confirmPoweredOff`, `--confirm-powered-off`: Pacemaker's `stonith_admin --confirm`).
 */
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { parse } from 'yaml';
import { BallastError, messageOf } from '../../../shared/src/errors.js';
import { compiledCheck } from '../../../shared/src/schema-check.js';
import { runFenceCommand } from './fence-command.js';
import { redfishForceOff } from './redfish.js';

const RedfishSchema = Type.Object(
  {
    kind: Type.Literal('redfish'),
    /** The ComputerSystem (`https://bmc-1/redfish/v1/Systems/1`), or the BMC alone (`https://bmc-1`) when it manages one system. */
    system: Type.String({ pattern: '^https?://[^\\s]+$', maxLength: 500 }),
    username: Type.String({ minLength: 1, maxLength: 200 }),
    /** A file holding the password (never the password itself in the config). */
    passwordFile: Type.String({ pattern: '^/', maxLength: 500 }),
    /** PEM CA of the BMC's certificate; BMCs mostly have self-signed ones. */
    caFile: Type.Optional(Type.String({ pattern: '^/', maxLength: 500 })),
  },
  { additionalProperties: false },
);
const CommandSchema = Type.Object(
  {
    kind: Type.Literal('command'),
    argv: Type.Array(Type.String({ minLength: 1, maxLength: 1000 }), { minItems: 1, maxItems: 50 }),
    /** Default 60 s. */
    timeoutMs: Type.Optional(Type.Integer({ minimum: 1000, maximum: 300_000 })),
  },
  { additionalProperties: false },
);

/** `<data dir>/fencing.yaml`: a fence agent per host name. */
export const FencingConfigSchema = Type.Object({ hosts: Type.Record(Type.String({ pattern: '^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$' }), Type.Union([RedfishSchema, CommandSchema])) }, { additionalProperties: false });
export type FencingConfig = Static<typeof FencingConfigSchema>;
export type FenceAgentConfig = FencingConfig['hosts'][string];

/** What confirmed a host off. */
export interface FenceOutcome {
  method: 'redfish' | 'command' | 'operator';
  message: string;
}

/** The port the fence step uses. */
export interface FencePort {
  /** Whether `host` has a fence agent (for `--check` and the plan). */
  describe(host: string): string | null;
  /** Powers `host` off and confirms it; throws BALLAST_ERR_FENCE_FAILED. `confirmed`: the operator attested it. */
  fence(host: string, o: { signal: AbortSignal; confirmed: boolean; progress?: (m: string) => void }): Promise<FenceOutcome>;
}

/** Reads and validates the fencing config; a missing file is an empty config. Throws BALLAST_ERR_CONFIG with the path of every problem. */
export function loadFencingConfig(path: string): FencingConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { hosts: {} };
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to read ${path}: ${messageOf(err)}`, { cause: err });
  }
  if (text.length > 256 * 1024) throw new BallastError('BALLAST_ERR_CONFIG', `failed to read ${path}: larger than 256 KiB`);
  const value = parse(text) as unknown;
  const check = compiledCheck(FencingConfigSchema);
  if (!check.Check(value)) {
    const problems = [...check.Errors(value)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new BallastError('BALLAST_ERR_CONFIG', `failed to load ${path}: ${problems.join('; ')}`, { path: problems[0]?.split(':')[0] ?? '/' });
  }
  return value;
}

/** The production port over a config. */
export function createFencePort(config: FencingConfig): FencePort {
  return {
    describe(host) {
      const agent = config.hosts[host];
      if (agent === undefined) return null;
      return agent.kind === 'redfish' ? `redfish ForceOff at ${agent.system}` : `command ${agent.argv[0]}`;
    },
    async fence(host, o) {
      const agent = config.hosts[host];
      if (agent === undefined) {
        if (o.confirmed) return { method: 'operator', message: `${host} confirmed powered off by the operator (no fence agent configured)` };
        throw new BallastError(
          'BALLAST_ERR_FENCE_FAILED',
          `failed to fence ${host}: no fence agent is configured for it (fencing.yaml in the controller's data dir), its agent does not fence itself (not an etcd member, or selfFenceDeadlineSeconds: 0) and nobody confirmed it is powered off; ` +
            'configure one and resume, or make sure the host is off and start again with --confirm-powered-off',
        );
      }
      if (agent.kind === 'redfish') {
        const password = readSecret(host, agent.passwordFile, 'passwordFile').trim();
        const ca = agent.caFile === undefined ? undefined : readSecret(host, agent.caFile, 'caFile');
        return redfishForceOff({ host, system: agent.system, username: agent.username, password, ...(ca === undefined ? {} : { ca }), signal: o.signal, progress: o.progress });
      }
      return runFenceCommand({ host, argv: agent.argv, timeoutMs: agent.timeoutMs ?? 60_000, signal: o.signal });
    },
  };
}

/** Reads a file the agent needs at fence time (so a fixed file works on resume); a failure pauses the operation saying which. */
function readSecret(host: string, path: string, field: string): string {
  try {
    const text = readFileSync(path, 'utf8');
    if (text.length > 64 * 1024) throw new Error('larger than 64 KiB');
    return text;
  } catch (err) {
    throw new BallastError('BALLAST_ERR_FENCE_FAILED', `failed to fence ${host}: cannot read its Redfish ${field} ${path}: ${messageOf(err)}; nothing was removed`, { cause: err });
  }
}
