import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { fakeExec } from '../tasks/testing.js';
import { createArpingPort, createIpAddressPort, parseIpAddrJson } from './address.js';

const SHOW = JSON.stringify([
  {
    ifname: 'eth0',
    addr_info: [
      { family: 'inet', local: '198.18.1.11', prefixlen: 24, valid_life_time: 4294967295 },
      { family: 'inet', local: '198.18.1.100', prefixlen: 32, valid_life_time: 1, dynamic: true },
      { family: 'inet6', local: 'fe80::1', prefixlen: 64, valid_life_time: 4294967295 },
    ],
  },
]);

describe('ip address port', () => {
  it('parses `ip -j addr show`: IPv4 only, forever as null', () => {
    expect(parseIpAddrJson(SHOW)).toEqual([
      { address: '198.18.1.11', prefixLength: 24, validLifetimeSeconds: null },
      { address: '198.18.1.100', prefixLength: 32, validLifetimeSeconds: 1 },
    ]);
    expect(parseIpAddrJson('')).toEqual([]);
    expect(() => parseIpAddrJson('{"not":"a list"}')).toThrow(/unexpected ip JSON/);
    expect(() => parseIpAddrJson('[{"addr_info":[{"prefixlen":"x"}]}]')).toThrow(/unexpected ip JSON/);
    expect(() => parseIpAddrJson('nope')).toThrow(/invalid JSON/);
  });

  it('renews with replace + lifetimes and deletes with the same prefix, in the namespace when given', async () => {
    const exec = fakeExec((argv) => {
      if (argv.includes('del')) return { code: 2, stdout: '', stderr: 'Error: ipv4: Address not found.\n' };
      if (argv.includes('-j')) return { code: 0, stdout: SHOW, stderr: '' };
      return { code: 0, stdout: '', stderr: '' };
    });
    const port = createIpAddressPort({ exec, address: '198.18.1.100', prefixLength: 32, interface: 'eth0', lifetimeSeconds: 1, netns: 'ns1' });
    await port.renew({ timeoutMs: 300 });
    expect(await port.remove()).toBe(false); // already gone is fine
    expect((await port.list()).length).toBe(2);
    expect(exec.calls).toEqual([
      ['ip', '-n', 'ns1', 'addr', 'replace', '198.18.1.100/32', 'dev', 'eth0', 'valid_lft', '1', 'preferred_lft', '1'],
      ['ip', '-n', 'ns1', 'addr', 'del', '198.18.1.100/32', 'dev', 'eth0'],
      ['ip', '-n', 'ns1', '-j', 'addr', 'show', 'dev', 'eth0'],
    ]);
  });

  it('reports other ip failures as coded errors', async () => {
    const exec = fakeExec(() => ({ code: 1, stdout: '', stderr: 'Cannot find device "eth9"\n' }));
    const port = createIpAddressPort({ exec, address: '198.18.1.100', prefixLength: 32, interface: 'eth9', lifetimeSeconds: 1 });
    await expect(port.renew({ timeoutMs: 300 })).rejects.toMatchObject({ code: 'BALLAST_ERR_COMMAND_FAILED' });
    await expect(port.remove()).rejects.toThrow(/eth9/);
  });

  it('sends gratuitous ARP without waiting, and a missing arping is only a warning', async () => {
    const exec = fakeExec(() => Promise.reject(new Error('spawn /usr/bin/arping ENOENT')));
    const arp = createArpingPort({ exec, address: '198.18.1.100', interface: 'eth0', log: silentLogger() });
    expect(arp.announce()).toBeUndefined();
    await new Promise((r) => setTimeout(r, 10));
    expect(exec.calls[0]).toEqual(['/usr/bin/arping', '-U', '-c', '3', '-I', 'eth0', '198.18.1.100']);
  });
});
