/**
 * Frames a simulated agent sends, shaped like the real agent's (shared/src/protocol/*): the
 * controller validates them with the same schemas, so they must stay valid.
 */
import type { Facts, Health } from '../../shared/src/protocol/facts.js';

/** Facts of a typical small server (sent once per connection). */
export function simFacts(name: string, index: number): Facts {
  const hex = index.toString(16).padStart(6, '0');
  return {
    hostname: name,
    os: { platform: 'linux', distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0-18-amd64', arch: 'x64' },
    cpu: { manufacturer: 'AMD', brand: 'EPYC 7313P', cores: 32, physicalCores: 16, speedGHz: 3 },
    memory: { totalBytes: 128 * 2 ** 30 },
    disks: [
      { device: '/dev/nvme0n1', type: 'NVMe', sizeBytes: 960 * 10 ** 9, model: 'SAMSUNG MZQL2960HCJR' },
      { device: '/dev/nvme1n1', type: 'NVMe', sizeBytes: 960 * 10 ** 9, model: 'SAMSUNG MZQL2960HCJR' },
    ],
    nics: [
      {
        name: 'eno1',
        mac: `02:00:00:${hex.slice(0, 2)}:${hex.slice(2, 4)}:${hex.slice(4, 6)}`,
        ipv4: [`10.${(index >> 16) & 255}.${(index >> 8) & 255}.${index & 255}`],
        ipv6: [],
        speedMbps: 25000,
        virtual: false,
      },
    ],
    productUuid: `00000000-0000-4000-8000-${hex.padStart(12, '0')}`,
    bootId: `11111111-2222-4333-8444-${hex.padStart(12, '0')}`,
  };
}

/** A health snapshot with three mounts and the agent's two checks, all passing. */
export function simHealth(ts: number): Health {
  return {
    ts,
    load: [0.42, 0.38, 0.35],
    memory: { totalBytes: 128 * 2 ** 30, availableBytes: 96 * 2 ** 30 },
    disks: [
      { mount: '/', sizeBytes: 100 * 10 ** 9, usedBytes: 21 * 10 ** 9 },
      { mount: '/var/lib', sizeBytes: 800 * 10 ** 9, usedBytes: 310 * 10 ** 9 },
      { mount: '/boot', sizeBytes: 10 ** 9, usedBytes: 2 * 10 ** 8 },
    ],
    clockOffsetMs: 0.4,
    checks: [
      { name: 'disk-space', ok: true, message: '79% free on /' },
      { name: 'memory', ok: true, message: '75% available' },
    ],
  };
}
