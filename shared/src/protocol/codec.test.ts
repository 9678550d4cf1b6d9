import { describe, expect, it } from 'vitest';
import { agentFrameDecoder, controllerFrameDecoder, encodeFrame } from './codec.js';
import type { Facts, Health } from './facts.js';
import { MAX_JSON_DEPTH } from '../json-depth.js';
import { MAX_FRAME_BYTES, MAX_FRAME_BYTES_BY_TYPE, PROTOCOL_VERSION } from './limits.js';
import type { AgentMessage, ControllerMessage } from './messages.js';

const facts: Facts = {
  hostname: 'node-1',
  os: { platform: 'linux', distro: 'Debian GNU/Linux', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' },
  cpu: { manufacturer: 'Intel', brand: 'Xeon', cores: 8, physicalCores: 4, speedGHz: 2.4 },
  memory: { totalBytes: 8e9 },
  disks: [{ device: '/dev/sda', type: 'SSD', sizeBytes: 5e11, model: 'X' }],
  nics: [{ name: 'eth0', mac: '52:54:00:12:34:56', ipv4: ['198.18.0.11'], ipv6: [], speedMbps: 1000, virtual: false }],
  productUuid: 'uuid',
  bootId: 'boot',
};
const health: Health = {
  ts: 1,
  load: [0.1, 0.2, 0.3],
  memory: { totalBytes: 8e9, availableBytes: 4e9 },
  disks: [{ mount: '/', sizeBytes: 1e11, usedBytes: 5e10 }],
  clockOffsetMs: null,
  checks: [{ name: 'memory', ok: true, message: '50% available' }],
};

/** One valid example of every message type in each direction. */
const agentExamples: AgentMessage[] = [
  { type: 'hello', protocol: PROTOCOL_VERSION, agentVersion: '0.1.0', sessionId: 's-1' },
  { type: 'hb', seq: 7, ts: Date.now() },
  { type: 'facts', facts },
  { type: 'health', health },
  { type: 'res', id: 'c-1', ok: true, result: { ts: 1 } },
  { type: 'res', id: 'c-2', ok: false, error: { code: 'BALLAST_ERR_INTERNAL', message: 'boom' } },
  { type: 'error', code: 'BALLAST_ERR_FRAME_INVALID', message: 'bad', path: '/x' },
  { type: 'run.event', runId: 'r1', phase: 'task', index: 0, name: 'write config', module: 'file', state: 'started' },
  {
    type: 'run.event',
    runId: 'r1',
    phase: 'handler',
    index: 0,
    name: 'restart containerd',
    module: 'systemd',
    state: 'finished',
    result: { status: 'changed', durationMs: 12, diff: '', message: 'restarted', notified: [] },
  },
  { type: 'event', kind: 'component.repaired', message: 'restarted containerd.service', data: { unit: 'containerd.service' } },
];
const controllerExamples: ControllerMessage[] = [
  { type: 'welcome', protocol: 1, hostId: 'h', name: 'node-1', heartbeatIntervalMs: 1000, healthIntervalMs: 15000, serverTime: 1 },
  { type: 'hb-ack', seq: 7, ts: 1, serverTime: 2 },
  { type: 'req.ping', id: 'c-1', timeoutMs: 5000 },
  { type: 'req.facts', id: 'c-2', timeoutMs: 5000 },
  { type: 'req.health', id: 'c-3', timeoutMs: 5000 },
  { type: 'res', id: 'a-1', ok: true },
  {
    type: 'req.run',
    id: 'c-4',
    timeoutMs: 600_000,
    run: {
      runId: 'r1',
      check: true,
      diff: true,
      tasks: [{ name: 'ip_forward', module: 'sysctl', args: { name: 'net.ipv4.ip_forward', value: '1' }, notify: [] }],
      handlers: [{ name: 'restart containerd', module: 'systemd', args: { unit: 'containerd.service', state: 'restarted' } }],
    },
  },
  { type: 'req.cancel', id: 'c-5', timeoutMs: 5000, runId: 'r1' },
  { type: 'error', code: 'BALLAST_ERR_PROTOCOL_VERSION', message: 'agent speaks protocol v2, controller speaks v1' },
];

describe('frame codec', () => {
  const fromAgent = agentFrameDecoder();
  const fromController = controllerFrameDecoder();

  it.each(agentExamples.map((m) => [m.type, m] as const))('accepts a valid agent "%s" frame', (_t, msg) => {
    const d = fromAgent.decode(encodeFrame(msg));
    expect(d).toEqual({ ok: true, message: msg });
  });

  it.each(controllerExamples.map((m) => [m.type, m] as const))('accepts a valid controller "%s" frame', (_t, msg) => {
    expect(fromController.decode(Buffer.from(encodeFrame(msg)))).toEqual({ ok: true, message: msg });
  });

  it('keeps directions apart: a controller-only type is unknown to the controller decoder', () => {
    const d = fromAgent.decode(encodeFrame({ type: 'welcome', protocol: 1, hostId: 'h', name: 'n', heartbeatIntervalMs: 1000, healthIntervalMs: 15000, serverTime: 1 }));
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe('BALLAST_ERR_FRAME_UNKNOWN_TYPE');
  });

  it('rejects malformed JSON with a coded error', () => {
    const d = fromAgent.decode('{"type":"hb",');
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe('BALLAST_ERR_FRAME_MALFORMED');
  });

  it.each([
    ['a number', '42'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['a string', '"hb"'],
  ])('rejects %s as a frame', (_what, text) => {
    const d = fromAgent.decode(text);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.code).toBe('BALLAST_ERR_FRAME_INVALID');
  });

  it('rejects a frame without a type, or with an unknown type, naming /type', () => {
    for (const text of ['{}', '{"type":5}', '{"type":"reboot-host"}']) {
      const d = fromAgent.decode(text);
      expect(d.ok).toBe(false);
      if (!d.ok) expect(d.error.path).toBe('/type');
    }
  });

  it('names the path of the first invalid field', () => {
    const bad = { type: 'facts', facts: { ...facts, nics: [{ ...facts.nics[0], mac: 7 }] } };
    const d = fromAgent.decode(JSON.stringify(bad));
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.code).toBe('BALLAST_ERR_FRAME_INVALID');
      expect(d.error.path).toBe('/facts/nics/0/mac');
      expect(d.error.message).toContain('/facts/nics/0/mac');
    }
  });

  it('checks a run frame structurally and leaves module arguments to the agent, per task', () => {
    const run = (task: unknown) =>
      JSON.stringify({ type: 'req.run', id: 'c', timeoutMs: 1000, run: { runId: 'r', check: false, diff: false, tasks: [task], handlers: [] } });
    expect(fromController.decode(run({ name: 't', module: 'file', args: { path: '/etc/x', content: 'y' } })).ok).toBe(true);
    // A bad argument must reach the agent so that only this task fails, with its path.
    expect(fromController.decode(run({ name: 't', module: 'file', args: { path: 'relative' } })).ok).toBe(true);
    expect(fromController.decode(run({ name: 't', module: 'shell', args: {} })).ok).toBe(false);
    expect(fromController.decode(run({ name: 't', module: 'file', args: 'rm -rf /' })).ok).toBe(false);
  });

  it('rejects wrong field types, negative counters and out-of-range values', () => {
    const cases = [
      { type: 'hb', seq: -1, ts: 1 },
      { type: 'hb', seq: 1.5, ts: 1 },
      { type: 'hb', seq: 1 },
      { type: 'hello', protocol: '1', agentVersion: 'x', sessionId: 's' },
      { type: 'hello', protocol: 1, agentVersion: 'x', sessionId: '' },
      { type: 'health', health: { ...health, load: [1, 2] } },
      { type: 'res', id: 'x'.repeat(65), ok: true },
      { type: 'error', code: 'NOT_A_CODE', message: 'x' },
    ];
    for (const c of cases) expect(fromAgent.decode(JSON.stringify(c)).ok, JSON.stringify(c)).toBe(false);
  });

  it('bounds arrays and strings so one frame cannot carry unbounded data', () => {
    const many = { type: 'facts', facts: { ...facts, nics: Array.from({ length: 257 }, () => facts.nics[0]) } };
    expect(fromAgent.decode(JSON.stringify(many)).ok).toBe(false);
    const long = { type: 'facts', facts: { ...facts, hostname: 'h'.repeat(257) } };
    expect(fromAgent.decode(JSON.stringify(long)).ok).toBe(false);
  });

  it('rejects an oversized frame before parsing it', () => {
    const big = JSON.stringify({ type: 'hb', seq: 1, ts: 1, pad: 'x'.repeat(MAX_FRAME_BYTES) });
    const d = fromAgent.decode(Buffer.from(big));
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.code).toBe('BALLAST_ERR_FRAME_TOO_LARGE');
      expect(d.error.message).toContain(String(MAX_FRAME_BYTES));
    }
    const small = agentFrameDecoder(64);
    const s = small.decode(JSON.stringify({ type: 'hb', seq: 1, ts: 1, x: 'y'.repeat(64) }));
    expect(s.ok).toBe(false);
  });

  it('parses a wrong protocol version as a valid hello so the session can refuse it by name', () => {
    const d = fromAgent.decode(JSON.stringify({ type: 'hello', protocol: 99, agentVersion: '9', sessionId: 's' }));
    expect(d.ok).toBe(true);
  });

  it('survives deeply nested input', () => {
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    const d = fromAgent.decode(deep);
    expect(d.ok).toBe(false);
  });

  it('refuses nesting past MAX_JSON_DEPTH before parsing, with its own code (issue 16 point 8)', () => {
    const nest = (n: number) => `${'['.repeat(n)}1${']'.repeat(n)}`;
    const deep = fromAgent.decode(`{"type":"event","kind":"x","message":"m","data":{"a":${nest(MAX_JSON_DEPTH)}}}`);
    expect(deep.ok ? null : deep.error).toMatchObject({ code: 'BALLAST_ERR_FRAME_TOO_DEEP', path: '/' });
    expect(deep.ok ? '' : deep.error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    // At the limit it is decoded as before (the event's object + data + 61 arrays = 64 levels).
    expect(fromAgent.decode(`{"type":"event","kind":"x","message":"m","data":{"a":${nest(MAX_JSON_DEPTH - 3)}}}`).ok).toBe(true);
    // The controller's frames are bounded the same way on the agent.
    const toAgent = fromController.decode(nest(100_000));
    expect(toAgent.ok ? null : toAgent.error.code).toBe('BALLAST_ERR_FRAME_TOO_DEEP');
  });

  it('bounds event frames tighter than the frame limit (issue 16 point 6)', () => {
    const frame = (bytes: number) => JSON.stringify({ type: 'event', kind: 'component.repaired', message: 'm', data: { pad: 'x'.repeat(bytes) } });
    expect(fromAgent.decode(frame(10 * 1024)).ok).toBe(true);
    const big = fromAgent.decode(frame(MAX_FRAME_BYTES_BY_TYPE.event ?? 0));
    expect(big.ok ? null : big.error.code).toBe('BALLAST_ERR_FRAME_TOO_LARGE');
  });
});
