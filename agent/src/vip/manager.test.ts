import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { fakeExec, makeTempRoot } from '../tasks/testing.js';
import { createVipManager, type VipManager } from './manager.js';
import type { VipEventKind } from './ports.js';

/** `ip` over an in-memory set of "cidr dev" entries. */
function fakeIp() {
  const addrs = new Set<string>();
  const exec = fakeExec((argv) => {
    const args = argv.slice(1);
    if (argv[0] !== 'ip') return { code: 0, stdout: '', stderr: '' }; // arping
    if (args[0] === '-j') {
      const dev = args[4]!;
      const info = [...addrs].filter((a) => a.endsWith(` ${dev}`)).map((a) => {
        const [local, prefix] = a.split(' ')[0]!.split('/');
        return { family: 'inet', local, prefixlen: Number(prefix), valid_life_time: 1 };
      });
      return { code: 0, stdout: JSON.stringify([{ ifname: dev, addr_info: info }]), stderr: '' };
    }
    const key = `${args[2]} ${args[4]}`;
    if (args[1] === 'del') return addrs.delete(key) ? { code: 0, stdout: '', stderr: '' } : { code: 2, stdout: '', stderr: 'Error: ipv4: Address not found.' };
    if (args[1] === 'replace') addrs.add(key);
    return { code: 0, stdout: '', stderr: '' };
  });
  return { exec, addrs };
}

const configYaml = (address: string, extra = '') =>
  `name: api\naddress: ${address}\ninterface: eth0\netcd:\n  endpoints: ["https://127.0.0.1:1"]\n  caFile: /etc/ballast/pki/ca.crt\n  certFile: /etc/ballast/pki/c.crt\n  keyFile: /etc/ballast/pki/c.key\nhealth:\n  kind: tcp\n  host: 127.0.0.1\n  port: 1\n${extra}`;

const exists = (p: string) => stat(p).then(() => true, () => false);

describe('VIP manager', () => {
  let manager: VipManager | null = null;
  let root = '';
  afterEach(async () => {
    await manager?.stop();
    manager = null;
    await rm(root, { recursive: true, force: true });
  });

  async function setup() {
    root = await makeTempRoot('ballast-vip-');
    await mkdir(join(root, 'etc/ballast/pki'), { recursive: true });
    for (const f of ['ca.crt', 'c.crt', 'c.key']) await writeFile(join(root, 'etc/ballast/pki', f), 'not a real PEM\n');
    const ip = fakeIp();
    const events: { kind: VipEventKind; message: string }[] = [];
    manager = createVipManager({ root, host: 'cp1', exec: ip.exec, log: silentLogger(), onEvent: (kind, message) => events.push({ kind, message }) });
    return { ip, events, m: manager };
  }

  it('without a config it is idle and removes an address an earlier run managed', async () => {
    const { ip, events, m } = await setup();
    await mkdir(join(root, 'var/lib/ballast'), { recursive: true });
    await writeFile(join(root, 'var/lib/ballast/vip-state.json'), JSON.stringify({ name: 'api', address: '198.18.1.100', prefixLength: 32, interface: 'eth0' }));
    ip.addrs.add('198.18.1.100/32 eth0');
    await m.tick();
    expect(ip.addrs.size).toBe(0);
    expect(events.map((e) => e.kind)).toEqual(['vip.stale-removed']);
    expect(await exists(join(root, 'var/lib/ballast/vip-state.json'))).toBe(false);
    expect(m.status().state).toBe('idle');
    expect(m.checks()).toEqual([]);
    await expect(m.handover('cp2')).rejects.toMatchObject({ code: 'BALLAST_ERR_NOT_FOUND' });
  });

  it('follows the config: env file for ExecStopPost first, live updates, re-election on address change, idle on removal', async () => {
    const { ip, m } = await setup();
    const cfg = join(root, 'etc/ballast/vip.yaml');
    await writeFile(cfg, configYaml('198.18.1.100'));
    await m.tick();
    const env = join(root, 'run/ballast/vip.env');
    expect(await readFile(env, 'utf8')).toMatch(/^VIP=198\.18\.1\.100\/32\nVIP_INTERFACE=eth0\n/m);
    expect(JSON.parse(await readFile(join(root, 'var/lib/ballast/vip-state.json'), 'utf8'))).toMatchObject({ address: '198.18.1.100', prefixLength: 32 });
    const [check] = m.checks();
    expect(check?.name).toBe('vip');
    expect(await check!.run()).toMatchObject({ ok: false }); // the tcp health check fails: unhealthy

    await writeFile(cfg, configYaml('198.18.1.100', 'candidate: false\n'));
    await m.tick();
    expect(m.status().state).toBe('excluded');
    expect(await m.checks()[0]!.run()).toEqual({ ok: true, message: 'excluded (not a candidate)' });

    ip.addrs.add('198.18.1.100/32 eth0'); // as if it had been held
    await writeFile(cfg, configYaml('198.18.1.101'));
    await m.tick();
    expect(ip.addrs.has('198.18.1.100/32 eth0')).toBe(false);
    expect(await readFile(env, 'utf8')).toMatch(/VIP=198\.18\.1\.101\/32/);

    await writeFile(cfg, 'name: [');
    await m.tick();
    expect(m.status().state).not.toBe('idle'); // a broken file does not stop a running election

    await rm(cfg);
    await m.tick();
    expect(m.status().state).toBe('idle');
    expect(await exists(env)).toBe(false);
    expect(await exists(join(root, 'var/lib/ballast/vip-state.json'))).toBe(false);
  });
});
