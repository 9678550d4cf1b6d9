import { readFileSync } from 'node:fs';
import os from 'node:os';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import si from 'systeminformation';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/src/log.js';
import { FactsSchema } from '../../shared/src/protocol/facts.js';
import { collectFacts, type NicInfo, parseOsRelease, type SystemInfoPort } from './facts.js';
import { systemInformationPort } from './facts-si.js';

const factsCheck = TypeCompiler.Compile(FactsSchema);

function expectValidFacts(value: unknown): void {
  const errors = [...factsCheck.Errors(value)].map((e) => `${e.path}: ${e.message}`);
  expect(errors).toEqual([]);
}

function nic(iface: string, extra: Partial<NicInfo> = {}): NicInfo {
  return { iface, mac: '02:00:00:00:00:01', ip4: [], ip6: [], speed: null, virtual: false, internal: false, ...extra };
}

/** A well-behaved fake; tests override single calls. */
function fakePort(overrides: Partial<SystemInfoPort> = {}): SystemInfoPort {
  return {
    osInfo: async () => ({
      hostname: 'node-1',
      platform: 'linux',
      distro: 'Debian GNU/Linux',
      release: '12',
      codename: 'bookworm',
      kernel: '6.1.0',
      arch: 'x64',
    }),
    cpu: async () => ({ manufacturer: 'AMD', brand: 'EPYC', cores: 16, physicalCores: 8, speed: 2.4 }),
    mem: async () => ({ total: 64 * 2 ** 30 }),
    blockDevices: async () => [
      { name: 'nvme0n1', type: 'disk', size: 1e12, physical: 'SSD', model: 'Samsung 990', protocol: 'nvme' },
      { name: 'nvme0n1p1', type: 'part', size: 5e11, physical: '', model: '', protocol: 'nvme' },
    ],
    networkInterfaces: async () => [nic('eth0', { ip4: ['10.0.0.5'], speed: 10_000 }), nic('lo', { internal: true })],
    uuid: async () => ({ hardware: '4c4c4544-0042-3010-8052-b4c04f564433' }),
    bootId: async () => '59888f56-80b0-4476-b3c9-cd95e846288f',
    ...overrides,
  };
}

describe('collectFacts on this machine', () => {
  it('validates against FactsSchema and is fast', async () => {
    const started = performance.now();
    const facts = await collectFacts({ si: systemInformationPort() });
    const elapsedMs = performance.now() - started;
    expectValidFacts(facts);
    expect(facts.hostname).toBe(os.hostname());
    expect(facts.os.kernel).toBe(os.release());
    expect(facts.memory.totalBytes).toBeGreaterThan(0);
    expect(facts.cpu.cores).toBeGreaterThan(0);
    expect(facts.nics.some((n) => n.name === 'lo')).toBe(false);
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(facts.bootId).toBe(bootId);
    // Every collector is bounded by 3 s; in practice the whole set takes ~100-150 ms here.
    expect(elapsedMs).toBeLessThan(3_500);
  });

  it('reports the OS like systeminformation.osInfo() does, without its blocking `hostname -f`', async () => {
    const [facts, reference] = await Promise.all([collectFacts({ si: systemInformationPort() }), si.osInfo()]);
    expect(facts.os.platform).toBe(reference.platform);
    expect(facts.os.distro).toBe(reference.distro);
    expect(facts.os.kernel).toBe(reference.kernel);
    expect(facts.os.arch).toBe(reference.arch);
  });
});

describe('collectFacts with a fake port', () => {
  it('maps the sources: whole disks only, NVMe labelled, loopback dropped', async () => {
    const facts = await collectFacts({ si: fakePort(), logger: silentLogger() });
    expectValidFacts(facts);
    expect(facts).toMatchObject({
      hostname: 'node-1',
      cpu: { manufacturer: 'AMD', brand: 'EPYC', cores: 16, physicalCores: 8, speedGHz: 2.4 },
      memory: { totalBytes: 64 * 2 ** 30 },
      disks: [{ device: '/dev/nvme0n1', type: 'NVMe', sizeBytes: 1e12, model: 'Samsung 990' }],
      nics: [{ name: 'eth0', ipv4: ['10.0.0.5'], ipv6: [], speedMbps: 10_000, virtual: false }],
      productUuid: '4c4c4544-0042-3010-8052-b4c04f564433',
    });
  });

  it('still returns valid facts when one collector throws and another hangs', async () => {
    const debug: { obj: object; msg: string }[] = [];
    const started = performance.now();
    const facts = await collectFacts({
      si: fakePort({
        cpu: async () => {
          throw new Error('lscpu: not found');
        },
        blockDevices: () => new Promise(() => {}),
      }),
      timeoutMs: 50,
      logger: { debug: (obj, msg) => debug.push({ obj, msg }) },
    });
    expect(performance.now() - started).toBeLessThan(1_000);
    expectValidFacts(facts);
    expect(facts.cpu).toEqual({ manufacturer: '', brand: '', cores: 0, physicalCores: 0, speedGHz: 0 });
    expect(facts.disks).toEqual([]);
    expect(facts.hostname).toBe('node-1');
    expect(debug.map((d) => d.obj)).toEqual(
      expect.arrayContaining([
        { collector: 'cpu', err: 'lscpu: not found' },
        { collector: 'blockDevices', err: 'timed out after 50 ms' },
      ]),
    );
  });

  it('survives synchronous throws and garbage from untyped sources', async () => {
    const garbage = fakePort({
      osInfo: () => {
        throw new Error('boom');
      },
      mem: async () => ({ total: Number.NaN }),
      // systeminformation is plain JS: nulls and wrong types do happen.
      blockDevices: async () => JSON.parse('[null, {"name": "sda", "type": "disk", "size": -1}]'),
      networkInterfaces: async () => JSON.parse('{"not": "a list"}'),
      uuid: async () => JSON.parse('{"hardware": null}'),
    });
    const facts = await collectFacts({ si: garbage });
    expectValidFacts(facts);
    expect(facts.hostname).toBe('');
    expect(facts.memory.totalBytes).toBe(0);
    expect(facts.disks).toEqual([]);
    expect(facts.nics).toEqual([]);
    expect(facts.productUuid).toBe('');
  });

  it('clamps strings and arrays to the schema limits, keeping physical NICs', async () => {
    const long = 'x'.repeat(5_000);
    const veths = Array.from({ length: 300 }, (_, i) => nic(`veth${i}`, { virtual: true }));
    const uplink = nic('eno1', {
      ip4: Array.from({ length: 100 }, (_, i) => `10.0.${i}.1`),
      ip6: [`fd00::${'1'.repeat(100)}`],
    });
    const facts = await collectFacts({
      si: fakePort({
        osInfo: async () => ({
          hostname: long,
          platform: long,
          distro: long,
          release: long,
          codename: long,
          kernel: long,
          arch: long,
        }),
        cpu: async () => ({ manufacturer: long, brand: long, cores: 3.7, physicalCores: -2, speed: 3 }),
        blockDevices: async () =>
          Array.from({ length: 400 }, (_, i) => ({
            name: `sd${i}`,
            type: 'disk',
            size: 1e12,
            physical: 'HDD',
            model: long,
            protocol: 'sas',
          })),
        networkInterfaces: async () => [...veths, uplink],
        bootId: async () => `\u{1F600}`.repeat(200), // surrogate pairs across the 256 cut
      }),
    });
    expectValidFacts(facts);
    expect(facts.hostname).toHaveLength(256);
    expect(facts.os.platform).toHaveLength(64);
    expect(facts.cpu.cores).toBe(3);
    expect(facts.cpu.physicalCores).toBe(0);
    expect(facts.disks).toHaveLength(256);
    expect(facts.nics).toHaveLength(256);
    expect(facts.nics[0]!.name).toBe('eno1');
    expect(facts.nics[0]!.ipv4).toHaveLength(64);
    expect(facts.nics[0]!.ipv6[0]).toHaveLength(64);
    expect(facts.bootId.length).toBeLessThanOrEqual(256);
    expect(facts.bootId.endsWith('\u{1F600}')).toBe(true);
  });
});

describe('parseOsRelease', () => {
  it('reads quoted, unquoted and escaped values and skips comments', () => {
    const parsed = parseOsRelease(
      [
        '# comment',
        'NAME="Ubuntu"',
        'VERSION_ID="22.04"',
        'VERSION_CODENAME=jammy',
        "ID_LIKE='debian'",
        'PRETTY_NAME="Say \\"hi\\""',
        'garbage line',
        '',
      ].join('\n'),
    );
    expect(parsed).toEqual({
      NAME: 'Ubuntu',
      VERSION_ID: '22.04',
      VERSION_CODENAME: 'jammy',
      ID_LIKE: 'debian',
      PRETTY_NAME: 'Say "hi"',
    });
  });
});
