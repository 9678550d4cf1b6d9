import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_UPSTREAM_HOSTS } from './artifacts/upstream.js';
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

  it('--artifact-trust-key: paths resolved to absolute ones (read at start, trust-keys.ts), empty ones refused; default none', () => {
    const none = validateControllerFlags({ ...defaults });
    expect(none.ok && none.settings.artifactTrustKeys).toEqual([]);
    const some = validateControllerFlags({ ...defaults, artifactTrustKey: ['/etc/ballast/trust/release.pub', 'rel.pub'] });
    expect(some.ok && some.settings.artifactTrustKeys).toEqual(['/etc/ballast/trust/release.pub', resolve('rel.pub')]);
    const bad = validateControllerFlags({ ...defaults, artifactTrustKey: [' '] });
    expect(bad.ok ? [] : bad.problems).toEqual(['--artifact-trust-key[0]: must name a public key file']);
  });

  it('--artifact-upstream: DNS names only; given names replace the default list', () => {
    const byDefault = validateControllerFlags({ ...defaults, artifactUpstream: [] });
    expect(byDefault.ok && byDefault.settings.artifactUpstreams).toEqual(DEFAULT_UPSTREAM_HOSTS);
    const narrowed = validateControllerFlags({ ...defaults, artifactUpstream: ['DL.k8s.io', 'cdn.dl.k8s.io'] });
    expect(narrowed.ok && narrowed.settings.artifactUpstreams).toEqual(['dl.k8s.io', 'cdn.dl.k8s.io']);
    const bad = validateControllerFlags({ ...defaults, artifactUpstream: ['github.com', '127.0.0.1', '[::1]', 'http://x', ''] });
    expect(bad.ok ? [] : bad.problems).toEqual([
      '--artifact-upstream[1]: "127.0.0.1" must be a DNS name such as dl.k8s.io',
      '--artifact-upstream[2]: "[::1]" must be a DNS name such as dl.k8s.io',
      '--artifact-upstream[3]: "http://x" must be a DNS name such as dl.k8s.io',
      '--artifact-upstream[4]: "" must be a DNS name such as dl.k8s.io',
    ]);
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
