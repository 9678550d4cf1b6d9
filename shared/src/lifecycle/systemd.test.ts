import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import type { Notifier } from '../sdnotify.js';
import { ServiceManager } from './manager.js';
import { systemdNotifyServices } from './systemd.js';

/** A notifier that records what it would send. */
function recordingNotifier(watchdogIntervalMs: number | null): Notifier & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    enabled: true,
    watchdogIntervalMs,
    ready: () => sent.push('READY=1'),
    watchdog: () => sent.push('WATCHDOG=1'),
    stopping: () => sent.push('STOPPING=1'),
    status: (text) => sent.push(`STATUS=${text}`),
    idle: async () => {
      sent.push('(idle)');
    },
  };
}

describe('systemdNotifyServices', () => {
  it('brackets the other services: READY after they start, STOPPING before they stop, flushed after', async () => {
    const n = recordingNotifier(5);
    const sd = systemdNotifyServices(n, { readyStatus: () => 'serving https://h:9443' });
    const app = {
      name: 'app',
      start: async () => {
        n.sent.push('(app started)');
      },
      stop: async () => {
        n.status('app stopped');
      },
    };
    const m = new ServiceManager([sd.flush, app, sd.watchdog], { name: 'prog', log: silentLogger() });
    await m.start();
    await new Promise((r) => setTimeout(r, 30));
    await m.stop();
    const watchdogs = n.sent.filter((s) => s === 'WATCHDOG=1').length;
    expect(watchdogs).toBeGreaterThan(0);
    expect(n.sent.filter((s) => s !== 'WATCHDOG=1')).toEqual(['(app started)', 'READY=1', 'STATUS=serving https://h:9443', 'STOPPING=1', 'STATUS=app stopped', '(idle)']);
    // No pings once stopping began.
    await new Promise((r) => setTimeout(r, 20));
    expect(n.sent.filter((s) => s === 'WATCHDOG=1')).toHaveLength(watchdogs);
  });

  it('leaves READY to the program when no ready status is given, and pings nothing without a watchdog', async () => {
    const n = recordingNotifier(null);
    const sd = systemdNotifyServices(n);
    await sd.watchdog.start(new AbortController().signal);
    await sd.watchdog.stop();
    expect(n.sent).toEqual(['STOPPING=1']);
  });
});
