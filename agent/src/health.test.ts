import { TypeCompiler } from '@sinclair/typebox/compiler';
import { describe, expect, it } from 'vitest';
import { type Health, HealthSchema } from '../../shared/src/protocol/facts.js';
import {
  collectHealth,
  diskSpaceCheck,
  type FsUsage,
  type HealthCheck,
  type HealthSystemPort,
  healthChanged,
  MAX_REPORTED_MOUNTS,
  memoryCheck,
  parseMeminfo,
  parseMounts,
} from './health.js';

const healthCheck = TypeCompiler.Compile(HealthSchema);

function expectValidHealth(value: unknown): void {
  const errors = [...healthCheck.Errors(value)].map((e) => `${e.path}: ${e.message}`);
  expect(errors).toEqual([]);
}

const GiB = 2 ** 30;

function usage(sizeGiB: number, usedGiB: number, files = 1_000): FsUsage {
  const bsize = 4096;
  const blocks = (sizeGiB * GiB) / bsize;
  const bfree = ((sizeGiB - usedGiB) * GiB) / bsize;
  return { bsize, blocks, bfree, bavail: bfree, files };
}

const MEMINFO = ['MemTotal:       16000000 kB', 'MemFree:         1000000 kB', 'MemAvailable:    8000000 kB', ''].join(
  '\n',
);

function fakeSystem(opts: { files?: Record<string, string>; statfs?: Record<string, FsUsage | 'hang'> } = {}) {
  const files = opts.files ?? { '/proc/meminfo': MEMINFO };
  const system: HealthSystemPort = {
    loadavg: () => [0.5, 0.25, 0.125],
    totalmem: () => 8 * GiB,
    freemem: () => 2 * GiB,
    readFile: async (path) => {
      const content = files[path];
      if (content === undefined) throw new Error(`ENOENT: ${path}`);
      return content;
    },
    statfs: (path) => {
      const result = opts.statfs?.[path];
      if (result === 'hang') return new Promise(() => {});
      if (result === undefined) return Promise.reject(new Error(`EACCES: ${path}`));
      return Promise.resolve(result);
    },
  };
  return system;
}

const check = (name: string, run: HealthCheck['run']): HealthCheck => ({ name, run });

describe('collectHealth on this machine', () => {
  it('validates against HealthSchema with the built-in checks', async () => {
    const health = await collectHealth({
      checks: [diskSpaceCheck({ path: '/', minFreePercent: 1 }), memoryCheck({ minAvailablePercent: 1 })],
      clockOffsetMs: () => 12,
    });
    expectValidHealth(health);
    expect(health.clockOffsetMs).toBe(12);
    expect(health.memory.availableBytes).toBeGreaterThan(0);
    expect(health.memory.availableBytes).toBeLessThanOrEqual(health.memory.totalBytes);
    expect(health.disks.map((d) => d.mount)).toContain('/');
    expect(health.checks.map((c) => c.name)).toEqual(['disk-space:/', 'memory']);
    expect(health.checks.every((c) => c.ok)).toBe(true);
  });
});

describe('collectHealth with fakes', () => {
  it('turns hanging and throwing checks into ok:false', async () => {
    const started = performance.now();
    const health = await collectHealth({
      checks: [
        check('hangs', () => new Promise(() => {})),
        check('rejects', async () => {
          throw new Error('kubelet is not running');
        }),
        check('throws-sync', () => {
          throw new Error('synchronous boom');
        }),
        check('fine', async () => ({ ok: true, message: 'all good' })),
      ],
      clockOffsetMs: () => null,
      system: fakeSystem(),
      mounts: async () => [],
      checkTimeoutMs: 50,
      now: () => 1_700_000_000_000,
    });
    expect(performance.now() - started).toBeLessThan(1_000);
    expectValidHealth(health);
    expect(health.checks).toEqual([
      { name: 'hangs', ok: false, message: 'timed out after 50 ms' },
      { name: 'rejects', ok: false, message: 'kubelet is not running' },
      { name: 'throws-sync', ok: false, message: 'synchronous boom' },
      { name: 'fine', ok: true, message: 'all good' },
    ]);
    expect(health.ts).toBe(1_700_000_000_000);
    expect(health.load).toEqual([0.5, 0.25, 0.125]);
    expect(health.memory).toEqual({ totalBytes: 16_000_000 * 1024, availableBytes: 8_000_000 * 1024 });
    expect(health.clockOffsetMs).toBeNull();
  });

  it('clamps check names, messages and count to the schema', async () => {
    const checks = Array.from({ length: 200 }, (_, i) =>
      check(`${i}-${'n'.repeat(300)}`, async () => ({ ok: true, message: 'm'.repeat(5_000) })),
    );
    const health = await collectHealth({ checks, clockOffsetMs: () => 0, system: fakeSystem(), mounts: async () => [] });
    expectValidHealth(health);
    expect(health.checks).toHaveLength(128);
    expect(health.checks[0]!.name).toHaveLength(128);
    expect(health.checks[0]!.message).toHaveLength(1024);
  });

  it('falls back to os memory figures without /proc/meminfo', async () => {
    const health = await collectHealth({
      checks: [],
      clockOffsetMs: () => null,
      system: fakeSystem({ files: {} }),
      mounts: async () => [],
    });
    expect(health.memory).toEqual({ totalBytes: 8 * GiB, availableBytes: 2 * GiB });
  });

  it('reports disks from /proc/self/mounts, deduping overlays and skipping failing statfs', async () => {
    const mounts = [
      'overlay / overlay rw,lowerdir=/l,upperdir=/u,workdir=/w 0 0',
      'proc /proc proc rw 0 0',
      '/dev/vda1 /etc/hosts ext4 rw 0 0',
      '/dev/vdb1 /data xfs rw 0 0',
      '/dev/vdc1 /stuck xfs rw 0 0',
      'overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs overlay rw 0 0',
      'overlay /run/containerd/io.containerd.runtime.v2.task/k8s.io/def/rootfs overlay rw 0 0',
      '/dev/vdd1 /denied ext4 rw 0 0',
    ].join('\n');
    const health = await collectHealth({
      checks: [],
      clockOffsetMs: () => null,
      checkTimeoutMs: 50,
      system: fakeSystem({
        files: { '/proc/meminfo': MEMINFO, '/proc/self/mounts': mounts },
        statfs: {
          '/': usage(100, 40, 7),
          '/etc/hosts': usage(500, 100, 8),
          '/data': usage(1_000, 950, 9),
          '/stuck': 'hang',
          // Same upper filesystem as the root overlay: the same numbers.
          '/run/containerd/io.containerd.runtime.v2.task/k8s.io/abc/rootfs': usage(100, 40, 7),
          '/run/containerd/io.containerd.runtime.v2.task/k8s.io/def/rootfs': usage(100, 40, 7),
        },
      }),
    });
    expectValidHealth(health);
    expect(health.disks).toEqual([
      { mount: '/', sizeBytes: 100 * GiB, usedBytes: 40 * GiB },
      { mount: '/data', sizeBytes: 1_000 * GiB, usedBytes: 950 * GiB },
      { mount: '/etc/hosts', sizeBytes: 500 * GiB, usedBytes: 100 * GiB },
    ]);
  });

  it(`reports at most ${MAX_REPORTED_MOUNTS} filesystems, shallowest first`, async () => {
    const mounts = Array.from({ length: 100 }, (_, i) => ({
      source: `/dev/sd${i}`,
      mountPoint: i === 99 ? '/' : `/mnt/disks/d${String(i).padStart(2, '0')}`,
      fsType: 'ext4',
    }));
    const statfs = Object.fromEntries(mounts.map((m, i) => [m.mountPoint, usage(10, 1, i)]));
    const health = await collectHealth({
      checks: [],
      clockOffsetMs: () => null,
      system: fakeSystem({ statfs }),
      mounts: async () => mounts,
    });
    expectValidHealth(health);
    expect(health.disks).toHaveLength(MAX_REPORTED_MOUNTS);
    expect(health.disks[0]!.mount).toBe('/');
    expect(health.disks[1]!.mount).toBe('/mnt/disks/d00');
  });
});

describe('parseMounts', () => {
  it('skips pseudo, network, FUSE and image filesystems and dedupes', () => {
    const text = [
      'sysfs /sys sysfs rw 0 0',
      'proc /proc proc rw 0 0',
      'devtmpfs /dev devtmpfs rw 0 0',
      'tmpfs /run tmpfs rw 0 0',
      'cgroup2 /sys/fs/cgroup cgroup2 rw 0 0',
      'cgroup /sys/fs/cgroup/cpu cgroup rw 0 0',
      '/dev/sda2 / btrfs rw,subvol=/@ 0 0',
      '/dev/sda2 /home btrfs rw,subvol=/@home 0 0',
      '/dev/sda1 /boot/efi vfat rw 0 0',
      '/dev/loop0 /snap/core/1 squashfs ro 0 0',
      'server:/export /mnt/nfs nfs4 rw 0 0',
      'sshfs#me@host: /mnt/ssh fuse.sshfs rw 0 0',
      '/dev/sdb1 /mnt/win fuseblk rw 0 0',
      '/dev/sdc1 /mnt/my\\040disk ext4 rw 0 0',
      '/dev/sdd1 /srv ext4 rw 0 0',
      '/dev/sde1 /srv xfs rw 0 0', // mounted over the previous one: it shadows it
      'rpool/data /rpool/data zfs rw 0 0',
      '',
    ].join('\n');
    expect(parseMounts(text)).toEqual([
      { source: '/dev/sda2', mountPoint: '/', fsType: 'btrfs' },
      { source: '/dev/sde1', mountPoint: '/srv', fsType: 'xfs' },
      { source: '/dev/sda1', mountPoint: '/boot/efi', fsType: 'vfat' },
      { source: '/dev/sdc1', mountPoint: '/mnt/my disk', fsType: 'ext4' },
      { source: '/dev/sdb1', mountPoint: '/mnt/win', fsType: 'fuseblk' },
      { source: 'rpool/data', mountPoint: '/rpool/data', fsType: 'zfs' },
    ]);
  });
});

describe('built-in checks', () => {
  it('diskSpaceCheck compares the space available to non-root with the minimum', async () => {
    const statfs = async (): Promise<FsUsage> => ({ bsize: 4096, blocks: 1_000, bfree: 150, bavail: 80, files: 1 });
    const low = await diskSpaceCheck({ path: '/var', minFreePercent: 10, system: { statfs } }).run();
    expect(low).toEqual({ ok: false, message: '8.0% free on /var (minimum 10%)' });
    const fine = await diskSpaceCheck({ path: '/var', minFreePercent: 5, system: { statfs } }).run();
    expect(fine.ok).toBe(true);
    expect(diskSpaceCheck({ path: '/var', minFreePercent: 5 }).name).toBe('disk-space:/var');
  });

  it('memoryCheck uses MemAvailable', async () => {
    const system = fakeSystem();
    expect(await memoryCheck({ minAvailablePercent: 60, system }).run()).toEqual({
      ok: false,
      message: '50.0% memory available (minimum 60%)',
    });
    expect((await memoryCheck({ minAvailablePercent: 50, system }).run()).ok).toBe(true);
  });

  it('parseMeminfo converts kB to bytes and keeps unitless counters', () => {
    const info = parseMeminfo('MemTotal: 2 kB\nActive(anon): 3 kB\nHugePages_Total: 4\nbad line');
    expect([...info]).toEqual([
      ['MemTotal', 2048],
      ['Active(anon)', 3072],
      ['HugePages_Total', 4],
    ]);
  });
});

describe('healthChanged', () => {
  const base: Health = {
    ts: 1,
    load: [0.1, 0.2, 0.3],
    memory: { totalBytes: 100, availableBytes: 50 },
    disks: [
      { mount: '/', sizeBytes: 100, usedBytes: 50 },
      { mount: '/data', sizeBytes: 100, usedBytes: 95 },
    ],
    clockOffsetMs: 3,
    checks: [
      { name: 'memory', ok: true, message: '50% available' },
      { name: 'kubelet', ok: true, message: 'running' },
    ],
  };
  const withDisk = (mount: string, usedBytes: number): Health => ({
    ...base,
    disks: base.disks.some((d) => d.mount === mount)
      ? base.disks.map((d) => (d.mount === mount ? { ...d, usedBytes } : d))
      : [...base.disks, { mount, sizeBytes: 100, usedBytes }],
  });

  it('ignores noise: time, load, byte counts, messages and the clock offset', () => {
    const drifted: Health = {
      ...base,
      ts: 15_000,
      load: [9, 9, 9],
      memory: { totalBytes: 100, availableBytes: 10 },
      disks: [
        { mount: '/', sizeBytes: 100, usedBytes: 89 },
        { mount: '/data', sizeBytes: 100, usedBytes: 99 },
      ],
      clockOffsetMs: null,
      checks: [
        { name: 'memory', ok: true, message: '10% available' },
        { name: 'kubelet', ok: true, message: 'running' },
      ],
    };
    expect(healthChanged(base, base)).toBe(false);
    expect(healthChanged(base, drifted)).toBe(false);
  });

  it('fires when a check flips, appears, disappears or is replaced', () => {
    const flip = { ...base, checks: [base.checks[0]!, { name: 'kubelet', ok: false, message: 'down' }] };
    const added = { ...base, checks: [...base.checks, { name: 'etcd', ok: true, message: '' }] };
    const removed = { ...base, checks: [base.checks[0]!] };
    const replaced = { ...base, checks: [base.checks[0]!, { name: 'etcd', ok: true, message: '' }] };
    expect(healthChanged(base, flip)).toBe(true);
    expect(healthChanged(flip, base)).toBe(true);
    expect(healthChanged(base, added)).toBe(true);
    expect(healthChanged(base, removed)).toBe(true);
    expect(healthChanged(base, replaced)).toBe(true);
  });

  it('fires when a disk crosses 90% used, either way', () => {
    expect(healthChanged(base, withDisk('/', 90))).toBe(true);
    expect(healthChanged(base, withDisk('/', 89))).toBe(false);
    expect(healthChanged(base, withDisk('/data', 80))).toBe(true);
    expect(healthChanged(base, withDisk('/data', 90))).toBe(false);
  });

  it('fires for a mount that appears already full, not for ordinary mount churn', () => {
    expect(healthChanged(base, withDisk('/new', 93))).toBe(true);
    expect(healthChanged(base, withDisk('/new', 10))).toBe(false);
    expect(healthChanged(base, { ...base, disks: [base.disks[0]!] })).toBe(false);
  });
});
