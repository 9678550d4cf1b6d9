import { type ChildProcess, spawn as nodeSpawn } from 'node:child_process';

/**
 * The systemd notification protocol (sd_notify(3)) for a Type=notify service.
 *
 * Node cannot send on a unix datagram socket and the agent ships no native addon, so each message is
 * handed to `systemd-notify --pid=<our pid> …`. Run as root (the agent), systemd-notify forges the
 * SCM_CREDENTIALS pid to ours, so systemd credits the message to the main PID and
 * `NotifyAccess=main` works (measured in a systemd 252 nspawn host: READY and WATCHDOG accepted).
 * A non-root service cannot forge the pid: libsystemd then resends with the helper's own pid, which
 * systemd refuses under NotifyAccess=main ("reception only permitted for main PID") — such a unit
 * (the controller, user `ballast`) needs `NotifyAccess=all`.
 *
 * `--no-block` skips systemd-notify's barrier round trip: the datagram is queued when sendmsg returns
 * and it is credited by the forged pid (alive: ours), not by looking up the exited helper's cgroup,
 * which is the race the barrier exists for.
 *
 * Guarantees: no call blocks the event loop or throws; at most one helper runs at a time, messages
 * sent meanwhile are coalesced into the next helper run; a helper that hangs is killed after a
 * timeout. Failures go to `onError` and never crash the caller.
 */
export interface Notifier {
  /** READY=1: startup finished (the agent: connected, or retrying with backoff). */
  ready(): void;
  /** WATCHDOG=1: the event loop is alive. Call every `watchdogIntervalMs`. */
  watchdog(): void;
  /** STOPPING=1: shutdown began. */
  stopping(): void;
  /** STATUS=…: a one-line human status shown by `systemctl status`. */
  status(text: string): void;
  /** Half of WATCHDOG_USEC (the interval sd_watchdog_enabled(3) advises), null when no watchdog is set for us. */
  readonly watchdogIntervalMs: number | null;
  /** True when NOTIFY_SOCKET was set, i.e. messages are really sent. */
  readonly enabled: boolean;
  /** Resolves once nothing is pending or in flight (bounded by the helper timeout), for orderly shutdown and tests. */
  idle(): Promise<void>;
}

/** Starts one helper process; injectable so tests need no systemd. */
export type SpawnFn = (command: string, args: string[], options: { env: NodeJS.ProcessEnv }) => ChildProcess;

/** Optional ports and knobs of createNotifier. */
export interface NotifierDeps {
  spawn?: SpawnFn;
  /** The main PID the messages are credited to (default: process.pid). */
  pid?: number;
  /** The helper binary (default: systemd-notify from PATH). */
  command?: string;
  /** A helper still running after this long is killed (default 5000 ms). */
  timeoutMs?: number;
  /** Told about every failed delivery; never thrown. */
  onError?: (err: Error) => void;
  /**
   * Remove NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from `env` after reading them, as
   * sd_notify's unset_environment does, so that commands the agent runs do not inherit them.
   * Default true.
   */
  unsetEnvironment?: boolean;
}

const MAX_STATUS_LENGTH = 200;

/** Parses WATCHDOG_USEC/WATCHDOG_PID as sd_watchdog_enabled(3) does; returns half the timeout in ms. */
export function watchdogIntervalFrom(env: NodeJS.ProcessEnv, pid: number): number | null {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || !/^\d+$/.test(usecText)) return null;
  const usec = Number(usecText);
  if (!Number.isSafeInteger(usec) || usec <= 0) return null;
  const pidText = env.WATCHDOG_PID;
  // The watchdog may be meant for another process (our parent set it for itself): then it is not ours.
  if (pidText !== undefined && pidText !== '' && Number(pidText) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** A notifier that does nothing (no NOTIFY_SOCKET: not started by systemd as Type=notify). */
function noopNotifier(watchdogIntervalMs: number | null): Notifier {
  return {
    ready() {},
    watchdog() {},
    stopping() {},
    status() {},
    watchdogIntervalMs,
    enabled: false,
    idle: () => Promise.resolve(),
  };
}

/** Creates the notifier for this process; a no-op when NOTIFY_SOCKET is unset. */
export function createNotifier(env: NodeJS.ProcessEnv = process.env, deps: NotifierDeps = {}): Notifier {
  const pid = deps.pid ?? process.pid;
  const socket = env.NOTIFY_SOCKET;
  const watchdogIntervalMs = socket ? watchdogIntervalFrom(env, pid) : null;
  if (deps.unsetEnvironment ?? true) {
    delete env.NOTIFY_SOCKET;
    delete env.WATCHDOG_USEC;
    delete env.WATCHDOG_PID;
  }
  if (!socket) return noopNotifier(null);
  return new HelperNotifier({
    socket,
    pid,
    watchdogIntervalMs,
    spawn: deps.spawn ?? ((command, args, options) => nodeSpawn(command, args, { ...options, stdio: 'ignore' })),
    command: deps.command ?? 'systemd-notify',
    timeoutMs: deps.timeoutMs ?? 5000,
    onError: deps.onError ?? (() => {}),
    childPath: env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
  });
}

interface HelperOptions {
  socket: string;
  pid: number;
  watchdogIntervalMs: number | null;
  spawn: SpawnFn;
  command: string;
  timeoutMs: number;
  onError: (err: Error) => void;
  childPath: string;
}

/**
 * Coalescing sender: `pending` holds the assignments not yet handed to a helper. Later values of one
 * key replace earlier ones (only the newest STATUS matters; two WATCHDOG=1 are one ping).
 */
class HelperNotifier implements Notifier {
  readonly enabled = true;
  readonly watchdogIntervalMs: number | null;
  private readonly pending = new Map<string, string>();
  private inFlight = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly opts: HelperOptions) {
    this.watchdogIntervalMs = opts.watchdogIntervalMs;
  }

  ready(): void {
    this.send('READY', '1');
  }

  watchdog(): void {
    this.send('WATCHDOG', '1');
  }

  stopping(): void {
    this.send('STOPPING', '1');
  }

  status(text: string): void {
    // The protocol is newline-separated assignments: a newline in the text would inject another one.
    const line = text.replace(/[\r\n]+/g, ' ').slice(0, MAX_STATUS_LENGTH);
    this.send('STATUS', line);
  }

  idle(): Promise<void> {
    if (!this.inFlight && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private send(key: string, value: string): void {
    this.pending.set(key, value);
    this.pump();
  }

  private pump(): void {
    if (this.inFlight) return;
    if (this.pending.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
      return;
    }
    const assignments = [...this.pending].map(([k, v]) => `${k}=${v}`);
    this.pending.clear();
    this.inFlight = true;
    this.runHelper(assignments);
  }

  private runHelper(assignments: string[]): void {
    const { command, pid, socket, timeoutMs } = this.opts;
    let done = false;
    let child: ChildProcess | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: Error | null): void => {
      if (done) return;
      done = true;
      if (timer) clearTimeout(timer);
      if (err) this.report(err);
      this.inFlight = false;
      // Next batch on a fresh tick: a synchronous spawn failure must not recurse.
      setImmediate(() => this.pump());
    };
    try {
      child = this.opts.spawn(command, ['--no-block', `--pid=${pid}`, ...assignments], {
        env: { NOTIFY_SOCKET: socket, PATH: this.opts.childPath },
      });
    } catch (err) {
      finish(new Error(`failed to start ${command}: ${errorText(err)}`, { cause: err }));
      return;
    }
    timer = setTimeout(() => {
      child?.kill('SIGKILL');
      finish(new Error(`failed to notify systemd: ${command} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    child.once('error', (err) => finish(new Error(`failed to start ${command}: ${err.message}`, { cause: err })));
    child.once('exit', (code, signal) => {
      if (code === 0) finish(null);
      else finish(new Error(`failed to notify systemd: ${command} exited with ${code ?? signal}`));
    });
  }

  private report(err: Error): void {
    try {
      this.opts.onError(err);
    } catch {
      // A throwing error callback must not break notifications; there is nowhere left to report it.
    }
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
