/**
 * Watches /etc/ballast/vip.yaml and the etcd client certificate by polling their stat stamps
 * (inode, size, mtime) every second, like the components dir: cheap, and it cannot miss an event
 * the way an inotify watch across an atomic rename can.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { isBallastError, messageOf } from '../../../shared/src/errors.js';
import type { EtcdTlsPem } from '../etcd/lease.js';
import { MAX_VIP_CONFIG_BYTES, parseVipConfig, type VipConfig } from './config.js';

/** Options of {@link createConfigWatch}. */
export interface ConfigWatchOptions {
  /** Resolves a host path under the manager's root. */
  path: (file: string) => string;
  configPath: string;
  log: Logger;
  /** Whether an election runs (a broken file then keeps it; the log says which). */
  running: () => boolean;
}

/** What the manager's tick asks of the files. */
export interface ConfigWatch {
  /** True when vip.yaml changed since the last call (the first call always says so). */
  changed(): Promise<boolean>;
  /**
   * Reads and validates vip.yaml: null when absent, 'invalid' when it does not validate (logged
   * once per distinct problem; the running election, if any, continues unchanged).
   */
  load(): Promise<VipConfig | null | 'invalid'>;
  /** The stamp of the config's TLS files, to notice a rotated certificate. */
  tlsStamp(config: VipConfig): Promise<string>;
  readTls(config: VipConfig): Promise<EtcdTlsPem>;
}

const tlsFiles = (c: VipConfig) => [c.etcd.caFile, c.etcd.certFile, c.etcd.keyFile];

/** Creates the watch; it keeps the last config stamp and the last reported problem. */
export function createConfigWatch(opts: ConfigWatchOptions): ConfigWatch {
  const { path, configPath, log } = opts;
  let configStamp: string | null = null;
  let lastProblem = '';

  async function stampOf(file: string): Promise<string> {
    try {
      const s = await stat(path(file));
      return `${s.ino}:${s.size}:${s.mtimeMs}`;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
      throw err;
    }
  }

  function problem(message: string, at?: string): 'invalid' {
    if (message !== lastProblem) {
      lastProblem = message;
      log.error({ file: configPath, path: at }, `${message}; ${opts.running() ? 'keeping the running VIP election' : 'the VIP stays idle'}`);
    }
    return 'invalid';
  }

  return {
    async changed() {
      const stamp = await stampOf(configPath);
      if (stamp === configStamp) return false;
      configStamp = stamp;
      return true;
    },
    async load() {
      let text: string;
      try {
        const s = await stat(path(configPath));
        // Bounded before it is read: a VIP config is a few hundred bytes.
        if (s.size > MAX_VIP_CONFIG_BYTES) throw new Error(`larger than ${MAX_VIP_CONFIG_BYTES} bytes`);
        text = await readFile(path(configPath), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        return problem(`failed to read ${configPath}: ${messageOf(err)}`);
      }
      try {
        const config = parseVipConfig(text, configPath);
        lastProblem = '';
        return config;
      } catch (err) {
        return problem(messageOf(err), isBallastError(err) ? err.path : undefined);
      }
    },
    tlsStamp: async (c) => (await Promise.all(tlsFiles(c).map(stampOf))).join('|'),
    async readTls(c) {
      const [ca, cert, key] = await Promise.all(tlsFiles(c).map((f) => readFile(path(f), 'utf8')));
      return { ca: ca!, cert: cert!, key: key! };
    },
  };
}
