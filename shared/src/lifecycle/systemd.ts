import type { Notifier } from '../sdnotify.js';
import { type Service, defineService } from './service.js';

/** Options of {@link systemdNotifyServices}. */
export interface SystemdNotifyOptions {
  /**
   * When set, READY=1 and this STATUS are sent once every service before the watchdog has started
   * (the controller: ready means listening). When absent the program sends READY itself (the
   * agent: once connected, or retrying).
   */
  readyStatus?: () => string;
}

/** The two halves of systemd notification; see {@link systemdNotifyServices}. */
export interface SystemdNotifyServices {
  /** Register first: stopped last, it waits until every notification sent while stopping is delivered. */
  flush: Service;
  /** Register last: started once all else runs (READY, WATCHDOG pings); stopped first (STOPPING=1). */
  watchdog: Service;
}

/**
 * systemd (Type=notify) brackets the other services: STOPPING=1 must be the first thing a shutdown
 * says and the last STATUS must still be delivered at its end, so notification is two services,
 * one at each end of the list.
 */
export function systemdNotifyServices(notifier: Notifier, opts: SystemdNotifyOptions = {}): SystemdNotifyServices {
  let timer: NodeJS.Timeout | null = null;
  return {
    flush: defineService('sd-notify', { stop: () => notifier.idle() }),
    watchdog: defineService('sd-watchdog', {
      start() {
        if (opts.readyStatus !== undefined) {
          notifier.ready();
          notifier.status(opts.readyStatus());
        }
        // WATCHDOG from the event loop: a wedged loop gets the process killed and restarted.
        if (notifier.watchdogIntervalMs !== null) timer = setInterval(() => notifier.watchdog(), notifier.watchdogIntervalMs);
      },
      stop() {
        notifier.stopping();
        if (timer !== null) clearInterval(timer);
        timer = null;
      },
    }),
  };
}
