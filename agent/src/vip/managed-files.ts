/**
 * The two files that let an address outlive the config that described it still be removed:
 *
 * - `/var/lib/ballast/vip-state.json`: the VIP this agent last managed. If the config later
 *   disappears or names another address, the old address is removed at start or on reload even
 *   though no config describes it any more.
 * - `/run/ballast/vip.env`: `VIP=<addr>/<prefix>` and `VIP_INTERFACE=<dev>` for the ExecStopPost
 *   script (ballast-vip-cleanup), written before the elector may add the address, so whatever way
 *   the agent dies, systemd removes exactly what we could have added. /run is right: the address
 *   does not survive a reboot either.
 */
import { readFile, rm } from 'node:fs/promises';
import type { Logger } from 'pino';
import { messageOf } from '../../../shared/src/errors.js';
import { writeFileAtomic } from '../../../shared/src/atomic-file.js';
import type { ExecPort } from '../host/ports.js';
import { createIpAddressPort } from './address.js';
import type { VipConfig } from './config.js';
import type { VipEventSink } from './ports.js';

export const VIP_STATE_PATH = '/var/lib/ballast/vip-state.json';
export const VIP_ENV_PATH = '/run/ballast/vip.env';

/** The state file's shape: enough to remove the address again. */
export interface ManagedAddress {
  name: string;
  address: string;
  prefixLength: number;
  interface: string;
}

/** Options of {@link createManagedFiles}. */
export interface ManagedFilesOptions {
  /** Resolves a host path under the manager's root. */
  path: (file: string) => string;
  statePath: string;
  envPath: string;
  host: string;
  exec: ExecPort;
  log: Logger;
  onEvent: VipEventSink;
}

/** The state and env files, and the removal of an address only they still describe. */
export interface ManagedFiles {
  /** Both files, before the elector can add anything (see the file comment). */
  write(config: VipConfig): Promise<void>;
  /** The address an earlier run (or config) managed; null when none or unreadable (logged). */
  read(): Promise<ManagedAddress | null>;
  /** Removes an address we managed under an earlier config (not the current one: its elector does that). */
  removeAddress(m: ManagedAddress, why: string): Promise<void>;
  /** No VIP any more: both files go. */
  clear(): Promise<void>;
}

/** True when `c` names the same address on the same interface as `m`. */
export const sameAddress = (m: ManagedAddress, c: VipConfig | null): boolean =>
  c !== null && m.address === c.address && m.prefixLength === c.prefixLength && m.interface === c.interface;

/** Creates the managed files over the manager's root. */
export function createManagedFiles(opts: ManagedFilesOptions): ManagedFiles {
  const { log, statePath, envPath, path } = opts;
  return {
    async write(config) {
      const managed: ManagedAddress = { name: config.name, address: config.address, prefixLength: config.prefixLength, interface: config.interface };
      await writeFileAtomic(path(statePath), `${JSON.stringify(managed)}\n`, 0o600);
      await writeFileAtomic(
        path(envPath),
        `# Written by ballast-agent: the VIP this host may hold, for ballast-vip-cleanup (ExecStopPost).\nVIP=${config.address}/${config.prefixLength}\nVIP_INTERFACE=${config.interface}\n`,
        0o644,
      );
    },
    async read() {
      try {
        const v = JSON.parse(await readFile(path(statePath), 'utf8')) as Partial<ManagedAddress>;
        if (typeof v.address === 'string' && typeof v.prefixLength === 'number' && typeof v.interface === 'string') {
          return { name: String(v.name ?? ''), address: v.address, prefixLength: v.prefixLength, interface: v.interface };
        }
        log.warn({ file: statePath }, 'ignoring a VIP state file of unknown shape');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn({ err: messageOf(err), file: statePath }, 'failed to read the VIP state file');
      }
      return null;
    },
    async removeAddress(m, why) {
      const port = createIpAddressPort({ exec: opts.exec, address: m.address, prefixLength: m.prefixLength, interface: m.interface, lifetimeSeconds: 1 });
      try {
        if (await port.remove()) {
          const message = `removed stale VIP ${m.address}/${m.prefixLength} from ${m.interface} (${why})`;
          log.warn(message);
          opts.onEvent('vip.stale-removed', message, { vip: m.name, address: `${m.address}/${m.prefixLength}`, host: opts.host, reason: why });
        }
      } catch (err) {
        log.error({ err: messageOf(err) }, `failed to remove stale VIP ${m.address}/${m.prefixLength} from ${m.interface}`);
      }
    },
    async clear() {
      await rm(path(envPath), { force: true });
      await rm(path(statePath), { force: true });
    },
  };
}
