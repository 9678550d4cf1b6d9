import { describe, expect, it } from 'vitest';
import { CONTROLLER_DEFAULTS, type ControllerFlags, parseHostPort, validateControllerFlags } from './config.js';

const defaults: ControllerFlags = { ...CONTROLLER_DEFAULTS, advertiseAddress: [], packagesDir: '/opt/ballast/controller/packages' };

describe('validateControllerFlags', () => {
  it('accepts the defaults and derives unreachable-after from the heartbeat interval', () => {
    const r = validateControllerFlags(defaults);
    expect(r.ok).toBe(true);
    if (r.ok) {
      expect(r.settings).toMatchObject({ listenHost: '0.0.0.0', listenPort: 9443, heartbeatIntervalMs: 1000, unreachableAfterMs: 3000, heartbeatFlushMs: 50 });
    }
  });

  it('reports every problem at once, each naming its flag', () => {
    const r = validateControllerFlags({
      ...defaults,
      listen: 'nohost',
      heartbeatInterval: 'soon',
      healthInterval: '1ms',
      certValidityDays: '0',
      logLevel: 'loud',
      advertiseAddress: ['198.18.0.2', 'bad host!'],
    });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.problems).toHaveLength(6);
      expect(r.problems.join('\n')).toMatch(/--listen:.*--heartbeat-interval:.*--health-interval:.*--cert-validity-days:.*--log-level:/s);
      expect(r.problems.find((p) => p.startsWith('--advertise-address[1]'))).toBeDefined();
    }
  });

  it('refuses an unreachable-after shorter than two heartbeats', () => {
    const r = validateControllerFlags({ ...defaults, unreachableAfter: '1500ms' });
    expect(r.ok).toBe(false);
  });
});

describe('parseHostPort', () => {
  it.each([
    ['127.0.0.1:9443', { host: '127.0.0.1', port: 9443 }],
    ['[::1]:0', { host: '::1', port: 0 }],
    ['ctrl.example:443', { host: 'ctrl.example', port: 443 }],
  ])('parses %s', (text, want) => expect(parseHostPort(text)).toEqual(want));

  it.each(['9443', '1.2.3.4:', '1.2.3.4:70000', '[nothex]:1', '::1:9443'])('rejects %s', (text) => expect(parseHostPort(text)).toBeNull());
});
