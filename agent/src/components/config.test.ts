import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { COMPONENTS_DIR, type ComponentSpec } from '../../../shared/src/components.js';
import { silentLogger } from '../../../shared/src/log.js';
import { makeTempRoot } from '../tasks/testing.js';
import { supervisedUnitsFromDir, loadComponentSpecs } from './config.js';

let root: string;
let dir: string;
const servers: Server[] = [];
beforeEach(async () => {
  root = await makeTempRoot();
  dir = join(root, COMPONENTS_DIR);
  await mkdir(dir, { recursive: true });
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

const write = (name: string, value: unknown) => writeFile(join(dir, name), typeof value === 'string' ? value : JSON.stringify(value));
const containerd: ComponentSpec = { name: 'containerd', unit: 'containerd.service', probe: { kind: 'containerd', socket: '/run/containerd/containerd.sock' } };

describe('loadComponentSpecs', () => {
  it('reads valid files and reports bad ones with the field path, without stopping', async () => {
    await write('containerd.json', containerd);
    await write('etcd.json', { name: 'etcd', unit: 'etcd.service', probe: { kind: 'etcd', url: 'https://127.0.0.1:2379/health' } });
    await write('broken.json', '{ nope');
    await write('other.json', { ...containerd });
    await write('README.txt', 'ignored');
    const { specs, problems } = await loadComponentSpecs({ root });
    expect(specs).toEqual([containerd]);
    expect(problems).toEqual([
      { file: `${COMPONENTS_DIR}/broken.json`, message: expect.stringContaining('JSON') },
      { file: `${COMPONENTS_DIR}/etcd.json`, message: expect.stringMatching(/^at \/probe/) },
      { file: `${COMPONENTS_DIR}/other.json`, message: 'at /name: "containerd" does not match the file name' },
    ]);
  });

  it('is empty when the directory does not exist', async () => {
    expect(await loadComponentSpecs({ root: await makeTempRoot() })).toEqual({ specs: [], problems: [] });
  });
});

describe('supervisedUnitsFromDir', () => {
  it('builds components with working probes, and leaves out those whose requiresPath is missing', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/healthz`;
    await write('kubelet.json', { name: 'kubelet', unit: 'kubelet.service', probe: { kind: 'kubelet', url }, intervalMs: 5000, requiresPath: '/var/lib/kubelet/config.yaml' });
    await write('containerd.json', containerd);
    const source = supervisedUnitsFromDir({ root, log: silentLogger() });
    expect((await source()).map((c) => c.name)).toEqual(['containerd']);
    await mkdir(join(root, 'var/lib/kubelet'), { recursive: true });
    await writeFile(join(root, 'var/lib/kubelet/config.yaml'), 'kind: KubeletConfiguration\n');
    const components = await source();
    expect(components.map((c) => [c.name, c.unit, c.intervalMs])).toEqual([
      ['containerd', 'containerd.service', undefined],
      ['kubelet', 'kubelet.service', 5000],
    ]);
    expect(await components[1]?.probe()).toEqual({ ok: true, message: `${url} answered 200` });
    // The socket path is resolved under the root: nothing listens there in the temp dir.
    const probe = await components[0]?.probe();
    expect(probe?.ok).toBe(false);
    expect(probe?.message).toContain(join(root, 'run/containerd/containerd.sock'));
  });
});
