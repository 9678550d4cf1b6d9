/**
 * The events a session records when an agent reconnects before its old connection closed (a heal
 * after a partition: the old TCP connection never saw a FIN). Fake sockets, the real tracker.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { encodeFrame } from '../../../shared/src/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../../shared/src/protocol/limits.js';
import { AgentSession } from './agent-session.js';
import { NULL_SESSION_STORE, testSessionContext } from './testing.js';
import { DisconnectNotices } from './disconnect-notices.js';
import { HostTracker } from './host-tracker.js';

/** A socket that delivers what it is given and closes like ws (the close event comes later). */
class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CONNECTING = 0;
  readyState = 1;
  send(): void {}
  close(code: number, reason: string): void {
    if (this.readyState !== 1) return;
    this.readyState = 3;
    setImmediate(() => this.emit('close', code, Buffer.from(reason)));
  }
  hello(sessionId: string): void {
    this.emit('message', Buffer.from(encodeFrame({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: '0.1.0', sessionId })), false);
  }
}

describe('AgentSession events', () => {
  it('a reconnect that replaces a connection not yet closed is one event saying so, not connected + disconnected', async () => {
    const events: { kind: string; message: string }[] = [];
    const tracker = new HostTracker({ sink: { transition: () => {} }, log: silentLogger() });
    tracker.add({ id: 'h1', name: 'host1', enrolledAt: 0 });
    const ctx = testSessionContext(tracker, {
      store: { ...NULL_SESSION_STORE, event: (e) => events.push({ kind: e.kind, message: e.message }) },
      helloTimeoutMs: 60_000,
    });
    const host = { id: 'h1', name: 'host1', address: '198.18.0.11' };
    const first = new FakeSocket();
    new AgentSession(ctx, first as unknown as WebSocket, host);
    first.hello('s-1');
    const second = new FakeSocket();
    new AgentSession(ctx, second as unknown as WebSocket, host);
    second.hello('s-2');
    await new Promise((resolve) => setImmediate(resolve));
    expect(events).toEqual([
      { kind: 'connected', message: 'agent 0.1.0 connected from 198.18.0.11' },
      { kind: 'connected', message: 'agent 0.1.0 reconnected from 198.18.0.11, replacing its previous connection, which had not closed (a network partition healed, or the agent restarted before the old connection timed out)' },
    ]);
    // A real disconnect of the current connection is still recorded.
    second.close(1006, '');
    await new Promise((resolve) => setImmediate(resolve));
    expect(events.at(-1)).toEqual({ kind: 'disconnected', message: 'agent disconnected (code 1006)' });
  });

  it('a connection that drops and comes straight back (a healed partition) is one event that says so', async () => {
    const events: { kind: string; message: string }[] = [];
    const tracker = new HostTracker({ sink: { transition: () => {} }, log: silentLogger() });
    tracker.add({ id: 'h1', name: 'host1', enrolledAt: 0 });
    let now = 1_000_000;
    const event = (e: { kind: string; message: string }) => events.push({ kind: e.kind, message: e.message });
    const ctx = testSessionContext(tracker, {
      store: { ...NULL_SESSION_STORE, event },
      now: () => now,
      helloTimeoutMs: 60_000,
      disconnects: new DisconnectNotices({ graceMs: 3000, now: () => now, sink: event }),
    });
    const host = { id: 'h1', name: 'host1', address: '198.18.0.11' };
    const first = new FakeSocket();
    new AgentSession(ctx, first as unknown as WebSocket, host);
    first.hello('s-1');
    // The agent's silence detection closes the old socket after the heal, then it reconnects.
    first.close(1006, '');
    await new Promise((resolve) => setImmediate(resolve));
    now += 420;
    const second = new FakeSocket();
    new AgentSession(ctx, second as unknown as WebSocket, host);
    second.hello('s-1');
    expect(events).toEqual([
      { kind: 'connected', message: 'agent 0.1.0 connected from 198.18.0.11' },
      {
        kind: 'connected',
        message: 'agent 0.1.0 reconnected from 198.18.0.11 420 ms after its previous connection dropped (code 1006; a network partition healed, or the agent restarted)',
      },
    ]);
  });
});

