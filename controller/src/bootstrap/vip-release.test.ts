import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { VipHostChangeResponse, VipStatusResponse } from '../../../shared/src/vip-api.js';
import { includeAgain, releaseVip, type VipReleasePort } from './vip-release.js';

function fakeVip(holder: string): VipReleasePort & { calls: string[] } {
  const calls: string[] = [];
  const change = (host: string, action: 'exclude' | 'include', wasHolder: boolean): VipHostChangeResponse =>
    ({ action, host, vip: 'api', wasHolder, handedOverTo: null, candidate: {} }) as unknown as VipHostChangeResponse;
  return {
    calls,
    status: async () => ({ items: [{ holder, candidates: ['h1', 'h2', 'h3', 'h4'].map((host) => ({ host })) }], observedAt: '' }) as unknown as VipStatusResponse,
    exclude: async (host: string) => {
      calls.push(`exclude ${host}`);
      if (host === 'h4') throw new Error('not connected');
      return change(host, 'exclude', host === holder);
    },
    include: async (host: string) => {
      calls.push(`include ${host}`);
      return change(host, 'include', false);
    },
  };
}

describe('releaseVip', () => {
  it('excludes the reset hosts with the holder last, so the VIP is released, not failed over', async () => {
    const vip = fakeVip('h2');
    // w1 is in no election (a worker): left alone.
    const released = await releaseVip(vip, ['h1', 'h2', 'h3', 'h4', 'w1'], 'op-1', silentLogger());
    expect(vip.calls).toEqual(['exclude h1', 'exclude h3', 'exclude h4', 'exclude h2']);
    expect(released).toEqual({ excluded: ['h1', 'h3', 'h2'], lines: ['h2 released the VIP'] });
    await includeAgain(vip, released.excluded, 'op-1', silentLogger());
    expect(vip.calls.slice(4)).toEqual(['include h1', 'include h3', 'include h2']);
  });
});
