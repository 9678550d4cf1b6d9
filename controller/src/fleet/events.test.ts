import { describe, expect, it } from 'vitest';
import { type HostEvent, HostEventBus } from './events.js';

const host = { id: 'h1', name: 'node-1' };
const state = (to: 'healthy' | 'degraded'): HostEvent => ({ type: 'host.state-changed', host, from: 'pending', to, at: 1, reason: 'heartbeat' });

describe('HostEventBus', () => {
  it('delivers each event to the listeners of its type only, in subscription order', () => {
    const bus = new HostEventBus();
    const seen: string[] = [];
    bus.on('host.state-changed', (e) => seen.push(`a:${e.to}`));
    bus.on('host.removed', (e) => seen.push(`removed:${e.host.name}`));
    bus.on('host.state-changed', (e) => seen.push(`b:${e.to}`));
    bus.emit(state('healthy'));
    bus.emit({ type: 'host.removed', host });
    expect(seen).toEqual(['a:healthy', 'b:healthy', 'removed:node-1']);
  });

  it('unsubscribes, also from inside a listener, without skipping the others of that emit', () => {
    const bus = new HostEventBus();
    const seen: string[] = [];
    const off = bus.on('host.state-changed', () => {
      seen.push('once');
      off();
    });
    bus.on('host.state-changed', (e) => seen.push(e.to));
    bus.emit(state('healthy'));
    bus.emit(state('degraded'));
    expect(seen).toEqual(['once', 'healthy', 'degraded']);
    expect(bus.listenerCount('host.state-changed')).toBe(1);
  });

  it('reports what a listener threw and still calls the next one', () => {
    const errors: Array<{ err: unknown; type: string }> = [];
    const bus = new HostEventBus({ onListenerError: (err, event) => errors.push({ err, type: event.type }) });
    const seen: string[] = [];
    bus.on('host.state-changed', () => {
      throw new Error('subscriber bug');
    });
    bus.on('host.state-changed', (e) => seen.push(e.to));
    expect(() => bus.emit(state('healthy'))).not.toThrow();
    expect(seen).toEqual(['healthy']);
    expect(errors).toEqual([{ err: new Error('subscriber bug'), type: 'host.state-changed' }]);
  });

  it('rethrows a listener error from a microtask by default, so a bug stays loud', async () => {
    const bus = new HostEventBus();
    bus.on('host.removed', () => {
      throw new Error('loud');
    });
    const thrown = new Promise<unknown>((resolve) => {
      const original = globalThis.queueMicrotask;
      globalThis.queueMicrotask = (task) => {
        globalThis.queueMicrotask = original;
        try {
          task();
        } catch (err) {
          resolve(err);
        }
      };
    });
    bus.emit({ type: 'host.removed', host });
    expect(await thrown).toEqual(new Error('loud'));
  });
});
