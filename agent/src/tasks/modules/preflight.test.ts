import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createModuleRegistry } from '../registry.js';
import { makeTempRoot, rejection, snapshotTree, testContext } from '../testing.js';
import { createPreflightModule, formatBytes, listeningPorts, type PreflightProbe } from './preflight.js';

const GiB = 1024 ** 3;
let root: string;
let probe: PreflightProbe & { freeCalls: string[]; free: number; cpuCount: number };

const TCP_HEADER = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
/** A /proc/net/tcp line: local hex address:port, state. */
const tcpLine = (i: number, local: string, state: string) =>
  `   ${i}: ${local} 00000000:0000 ${state} 00000000:00000000 00:00000000 00000000     0        0 ${20000 + i} 1 0000000000000000 100 0 0 10 0\n`;

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), content);
}

/** A healthy host: kernel 6.1, cgroup v2, no swap, nothing listening on cluster ports, 8 GiB RAM. */
async function healthyHost(): Promise<void> {
  await put('/proc/sys/kernel/osrelease', '6.1.0-18-amd64\n');
  await put('/sys/fs/cgroup/cgroup.controllers', 'cpuset cpu io memory hugetlb pids rdma misc\n');
  await put('/proc/swaps', 'Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n');
  // sshd on 22 (v4, 0.0.0.0) and an established connection to 2379 (state 01: not a listener).
  await put('/proc/net/tcp', TCP_HEADER + tcpLine(0, '00000000:0016', '0A') + tcpLine(1, '0100007F:A1B2', '01'));
  await put('/proc/net/tcp6', TCP_HEADER + tcpLine(0, '00000000000000000000000000000000:0016', '0A'));
  await put('/proc/meminfo', 'MemTotal:        8036424 kB\nMemFree:         1022840 kB\nMemAvailable:    5120000 kB\n');
  await mkdir(join(root, 'var/lib'), { recursive: true });
}

beforeEach(async () => {
  root = await makeTempRoot();
  probe = {
    freeCalls: [],
    free: 50 * GiB,
    cpuCount: 4,
    async freeBytes(path) {
      this.freeCalls.push(path.slice(root.length) || '/');
      return this.free;
    },
    cpus() {
      return this.cpuCount;
    },
    kernelRelease: () => '6.8.0-fallback',
  };
  await healthyHost();
});

const registry = () => createModuleRegistry([createPreflightModule(probe)]);
const run = (args: Record<string, unknown>, check = false) => registry().run('preflight', args, testContext(root, { check }));
const FULL = {
  minKernel: '4.19',
  freePorts: [2379, 2380, 6443, 10250],
  minFreeBytes: { '/var/lib/etcd': 20 * GiB },
  cgroupV2: true,
  noSwap: true,
  minMemoryBytes: 2 * GiB,
  minCpus: 2,
};

describe('preflight module', () => {
  it('passes a healthy host, changes nothing and says what it checked', async () => {
    const before = await snapshotTree(root);
    expect(await run(FULL)).toEqual({ changed: false, message: 'passed: kernel, cgroup v2, swap, 4 ports, disk, memory, CPUs' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('measures a data dir that does not exist yet on its nearest existing ancestor', async () => {
    await run({ minFreeBytes: { '/var/lib/etcd/member': GiB } });
    expect(probe.freeCalls).toEqual(['/var/lib']);
  });

  it('lists every failure in one BALLAST_ERR_PREFLIGHT', async () => {
    await put('/proc/sys/kernel/osrelease', '4.9.0-8-amd64\n');
    await put('/proc/swaps', 'Filename\tType\tSize\tUsed\tPriority\n/dev/sda2                               partition\t2097148\t0\t-2\n');
    await put('/proc/net/tcp', TCP_HEADER + tcpLine(0, '0100007F:094B', '0A') + tcpLine(1, '00000000:0016', '0A'));
    const err = await rejection(run({ minKernel: '4.19', freePorts: [2379, 6443], noSwap: true }));
    expect(err).toMatchObject({
      code: 'BALLAST_ERR_PREFLIGHT',
      message: 'failed preflight: 3 problems: kernel 4.9.0-8-amd64 < 4.19; swap is on (/dev/sda2); port 2379 is in use (etcd? pid unknown)',
    });
  });

  it('reports every kind of failure at once', async () => {
    await put('/proc/sys/kernel/osrelease', '5.4.0\n');
    await put('/proc/swaps', 'Filename Type Size Used Priority\n/swap.img file 1000 0 -2\n/dev/zram0 partition 1000 0 100\n');
    await put('/proc/net/tcp6', TCP_HEADER + tcpLine(0, '00000000000000000000000000000000:280A', '0A') + tcpLine(1, '00000000000000000000000001000000:1F90', '0A'));
    await put('/proc/meminfo', 'MemTotal:        1014784 kB\n');
    const cgroup = join(root, 'sys/fs/cgroup/cgroup.controllers');
    await (await import('node:fs/promises')).rm(cgroup);
    probe.free = 5 * GiB;
    probe.cpuCount = 1;
    const err = await rejection(run({ ...FULL, minKernel: '5.10', freePorts: [6443, 8080, 10250] }));
    expect(err).toMatchObject({ code: 'BALLAST_ERR_PREFLIGHT' });
    const message = (err as Error).message;
    expect(message).toMatch(/^failed preflight: 8 problems: /);
    for (const part of [
      'kernel 5.4.0 < 5.10',
      'cgroup v2 is not mounted at /sys/fs/cgroup (v1 or hybrid hierarchy)',
      'swap is on (/swap.img, /dev/zram0)',
      'port 8080 is in use (pid unknown)',
      'port 10250 is in use (kubelet? pid unknown)',
      '/var/lib/etcd has 5 GiB free < 20 GiB',
      'memory 991 MiB < 2 GiB',
      '1 CPU < 2',
    ]) {
      expect(message).toContain(part);
    }
    expect(message).not.toContain('port 6443');
  });

  it('runs the same checks in check mode', async () => {
    await put('/proc/swaps', 'Filename Type Size Used Priority\n/dev/sda2 partition 1 0 -2\n');
    expect(await rejection(run({ noSwap: true }, true))).toMatchObject({ code: 'BALLAST_ERR_PREFLIGHT', message: 'failed preflight: 1 problem: swap is on (/dev/sda2)' });
    expect(await run({ noSwap: false, cgroupV2: false, minCpus: 1 }, true)).toEqual({ changed: false, message: 'passed: CPUs' });
  });

  it('checks swap and cgroup v2 by default, and nothing else unless asked', async () => {
    expect(await run({})).toEqual({ changed: false, message: 'passed: cgroup v2, swap' });
    expect(await run({ cgroupV2: false, noSwap: false })).toEqual({ changed: false, message: 'nothing to check' });
  });

  it('falls back to the running kernel when osrelease is not under the root, and treats no /proc/swaps as swap off', async () => {
    const fs = await import('node:fs/promises');
    await fs.rm(join(root, 'proc/sys/kernel/osrelease'));
    await fs.rm(join(root, 'proc/swaps'));
    expect(await run({ minKernel: '6.8' })).toMatchObject({ changed: false });
    expect(await rejection(run({ minKernel: '6.8.1' }))).toMatchObject({ message: 'failed preflight: 1 problem: kernel 6.8.0-fallback < 6.8.1' });
  });

  it('accepts a port in use when its unlessExists path exists (our own service from an earlier run)', async () => {
    await put('/proc/net/tcp6', TCP_HEADER + tcpLine(0, '00000000000000000000000000000000:280A', '0A'));
    const entry = { port: 10250, unlessExists: '/etc/kubernetes/kubelet.conf' };
    expect(await rejection(run({ freePorts: [entry] }))).toMatchObject({ message: expect.stringMatching(/port 10250 is in use/) });
    await put('/etc/kubernetes/kubelet.conf', 'x');
    expect(await run({ freePorts: [entry] })).toMatchObject({ changed: false });
  });

  it('fails closed when /proc/net/tcp cannot be read, and tolerates a missing tcp6', async () => {
    const fs = await import('node:fs/promises');
    await fs.rm(join(root, 'proc/net/tcp6'));
    expect(await run({ freePorts: [2379] })).toMatchObject({ changed: false });
    await fs.rm(join(root, 'proc/net/tcp'));
    expect(await rejection(run({ freePorts: [2379] }))).toMatchObject({ message: 'failed preflight: 1 problem: cannot read /proc/net/tcp: listening ports unknown' });
  });

  it('reports a statfs failure as a problem of that path', async () => {
    probe.freeBytes = async () => {
      throw new Error('EACCES: permission denied');
    };
    expect(await rejection(run({ minFreeBytes: { '/var/lib/etcd': 1 } }))).toMatchObject({
      message: 'failed preflight: 1 problem: cannot measure free space of /var/lib/etcd: EACCES: permission denied',
    });
  });

  it('refuses bad arguments before touching the host', async () => {
    expect(await rejection(run({ minKernel: 'four' }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/minKernel' });
    expect(await rejection(run({ freePorts: [0] }))).toMatchObject({ code: 'BALLAST_ERR_VALIDATION', path: '/args/freePorts/0' });
    // The record's key pattern is not enforced by the schema check; hostPath refuses a relative path.
    expect(await rejection(run({ minFreeBytes: { 'var/lib': 1 } }))).toMatchObject({ code: 'BALLAST_ERR_PATH_OUTSIDE_ROOT' });
  });

  it('is one of the built-in modules', () => {
    expect(createModuleRegistry().names()).toContain('preflight');
  });
});

describe('listeningPorts', () => {
  it('keeps LISTEN sockets only and decodes hex ports', () => {
    const table = TCP_HEADER + tcpLine(0, '0100007F:0CEA', '0A') + tcpLine(1, '0A000005:0CEB', '01') + tcpLine(2, '00000000:1A0A', '0A');
    expect([...listeningPorts(table)]).toEqual([
      [3306, '0100007F'],
      [6666, '00000000'],
    ]);
    expect(listeningPorts('')).toEqual(new Map());
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [20 * GiB, '20 GiB'],
  ])('%d → %s', (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});
