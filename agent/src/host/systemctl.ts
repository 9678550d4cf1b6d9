import { BallastError } from '../../../shared/src/errors.js';
import { tail } from './exec.js';
import type { ExecPort, SystemdPort, UnitActiveState } from './ports.js';

/** Options of {@link createSystemctl}. */
export interface SystemctlOptions {
  exec: ExecPort;
  /** Per call; start/restart of a slow unit is what takes longest. Default 120 s. */
  timeoutMs?: number;
  /** The binary; default `systemctl` from PATH (Debian and RHEL agree on nothing else). */
  command?: string;
}

const ENABLED_STATES = new Set(['enabled', 'enabled-runtime', 'alias']);
/**
 * `activating` counts as active: the unit is on its way up and needs no start, and the supervisor
 * must not restart a unit that is still starting (etcd waiting for its peers can take a while);
 * if it never gets there, its failing probe triggers the restart instead.
 */
const ACTIVE_STATES = new Set(['active', 'reloading', 'activating']);
const KNOWN_STATES: ReadonlySet<string> = new Set<UnitActiveState>(['active', 'reloading', 'inactive', 'failed', 'activating', 'deactivating']);

/**
 * The real {@link SystemdPort}: `systemctl` argv through the exec port. Queries read the state word
 * `systemctl` prints rather than its exit status, whose meaning differs between `is-enabled` states
 * (e.g. `static` exits 0 but cannot be enabled).
 */
export function createSystemctl(opts: SystemctlOptions): SystemdPort {
  const command = opts.command ?? 'systemctl';
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const query = async (verb: string, unit: string): Promise<string> => {
    const result = await opts.exec([command, verb, unit], { timeoutMs });
    return result.stdout.trim().split('\n')[0] ?? '';
  };
  const act = async (...args: string[]): Promise<void> => {
    const result = await opts.exec([command, ...args], { timeoutMs });
    if (result.code !== 0) {
      throw new BallastError(
        'BALLAST_ERR_COMMAND_FAILED',
        `failed to ${args.join(' ')}: systemctl exited ${result.code}: ${tail(result.stderr || result.stdout)}`,
      );
    }
  };
  return {
    daemonReload: () => act('daemon-reload'),
    isEnabled: async (unit) => ENABLED_STATES.has(await query('is-enabled', unit)),
    enable: (unit) => act('enable', unit),
    disable: (unit) => act('disable', unit),
    isActive: async (unit) => ACTIVE_STATES.has(await query('is-active', unit)),
    activeState: async (unit) => {
      const word = await query('is-active', unit);
      return KNOWN_STATES.has(word) ? (word as UnitActiveState) : 'unknown';
    },
    start: (unit) => act('start', unit),
    stop: (unit) => act('stop', unit),
    restart: (unit) => act('restart', unit),
  };
}
