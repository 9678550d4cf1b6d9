/**
 * Protocol compatibility of `req.vip` (decision in shared/src/protocol/vip.ts): no version bump;
 * the controller sends it only to agents whose hello listed the `vip` feature, and refuses it
 * for older agents with a coded error instead of letting it run into a deadline.
 */
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import { agentFrameDecoder, controllerFrameDecoder } from '../../../shared/src/protocol/codec.js';
import { PROTOCOL_VERSION } from '../../../shared/src/protocol/limits.js';
import { AgentSession } from '../hub/agent-session.js';
import { testSessionContext } from '../hub/testing.js';
import { HostTracker } from '../hub/host-tracker.js';

class FakeSocket extends EventEmitter {
  readonly OPEN = 1;
  readonly CONNECTING = 0;
  readyState = 1;
  readonly sent: Record<string, unknown>[] = [];
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 3;
  }
}

function session(hello: Record<string, unknown>) {
  const tracker = new HostTracker({ log: silentLogger(), sink: { transition: () => {} } });
  tracker.add({ id: 'h_cp1', name: 'cp1', enrolledAt: 0 });
  const ctx = testSessionContext(tracker);
  const socket = new FakeSocket();
  const s = new AgentSession(ctx, socket as unknown as WebSocket, { id: 'h_cp1', name: 'cp1', address: null });
  socket.emit('message', Buffer.from(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: '0.1.0', sessionId: 'a-1', ...hello })), false);
  return { s, socket };
}

describe('req.vip and older agents', () => {
  it('refuses req.vip to an agent whose hello has no "vip" feature, without sending anything', async () => {
    const { s, socket } = session({});
    expect(socket.sent.map((m) => m.type)).toEqual(['welcome']);
    await expect(s.request((id) => ({ type: 'req.vip', id, timeoutMs: 1000, action: 'status' }))).rejects.toMatchObject({
      code: 'BALLAST_ERR_UNSUPPORTED',
      message: expect.stringMatching(/agent 0\.1\.0 does not support it \(no "vip" in its hello\); upgrade the agent/),
    });
    expect(socket.sent).toHaveLength(1);
    // Requests of protocol v1 are not affected.
    void s.request((id) => ({ type: 'req.ping', id, timeoutMs: 1000 })).catch(() => undefined);
    expect(socket.sent.at(-1)).toMatchObject({ type: 'req.ping' });
    s.close(1000, 'done');
  });

  it('sends req.vip to an agent that advertised it, as a frame the agent decoder accepts', async () => {
    const { s, socket } = session({ features: ['vip'] });
    const pending = s.request((id) => ({ type: 'req.vip', id, timeoutMs: 1000, action: 'move', to: 'cp2' }));
    const frame = socket.sent.at(-1)!;
    const decoded = controllerFrameDecoder().decode(JSON.stringify(frame));
    expect(decoded).toMatchObject({ ok: true, message: { type: 'req.vip', action: 'move', to: 'cp2' } });
    socket.emit('message', Buffer.from(JSON.stringify({ type: 'res', id: frame.id, ok: true, result: { from: 'cp1', to: 'cp2', term: '5' } })), false);
    expect(await pending).toEqual({ from: 'cp1', to: 'cp2', term: '5' });
  });

  it('decodes req.vip strictly (a move needs its target) and hellos with or without features', () => {
    const d = controllerFrameDecoder();
    expect(d.decode(JSON.stringify({ type: 'req.vip', id: 'c-1', timeoutMs: 1000, action: 'move' })).ok).toBe(false);
    expect(d.decode(JSON.stringify({ type: 'req.vip', id: 'c-1', timeoutMs: 1000, action: 'jump' })).ok).toBe(false);
    expect(d.decode(JSON.stringify({ type: 'req.vip', id: 'c-1', timeoutMs: 1000, action: 'exclude' })).ok).toBe(true);
    const a = agentFrameDecoder();
    const hello = { type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: '0.1.0', sessionId: 's' };
    expect(a.decode(JSON.stringify(hello)).ok).toBe(true);
    expect(a.decode(JSON.stringify({ ...hello, features: ['vip'] })).ok).toBe(true);
    expect(a.decode(JSON.stringify({ ...hello, features: ['NOT OK'] })).ok).toBe(false);
  });
});
