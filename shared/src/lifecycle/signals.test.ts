import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../log.js';
import { exitOnSignals } from './signals.js';

function setup(stop: () => Promise<void>, forceAfterMs = 1000) {
  const signals = new EventEmitter();
  const exits: number[] = [];
  let stops = 0;
  exitOnSignals({
    log: silentLogger(),
    forceAfterMs,
    signals,
    exit: (code) => exits.push(code),
    stop: () => {
      stops++;
      return stop();
    },
  });
  const settled = () => new Promise((r) => setTimeout(r, 20));
  return { signals, exits, stops: () => stops, settled };
}

describe('exitOnSignals', () => {
  it('stops once on SIGTERM and exits 0; a second signal does not stop again', async () => {
    const fx = setup(async () => {});
    fx.signals.emit('SIGTERM', 'SIGTERM');
    fx.signals.emit('SIGINT', 'SIGINT');
    await fx.settled();
    expect(fx.stops()).toBe(1);
    expect(fx.exits).toEqual([0]);
  });

  it('exits 1 when stopping fails', async () => {
    const fx = setup(async () => Promise.reject(new Error('store would not close')));
    fx.signals.emit('SIGINT', 'SIGINT');
    await fx.settled();
    expect(fx.exits).toEqual([1]);
  });

  it('exits 1 when stopping takes longer than forceAfterMs', async () => {
    const fx = setup(() => new Promise<void>(() => {}), 5);
    fx.signals.emit('SIGTERM', 'SIGTERM');
    await fx.settled();
    expect(fx.exits).toEqual([1]);
  });
});
