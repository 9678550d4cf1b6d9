/**
 * Issue 16 points 5–8, replayed against a real controller over real mTLS websockets (hub-support.ts):
 * an enrolled agent's frame floods, garbage and deeply nested JSON, and one identity on two machines.
 */
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonDepth, MAX_JSON_DEPTH } from '../../shared/src/json-depth.js';
import { HOST_LIST_MAX_BYTES, LIST_PAGE_MAX_BYTES } from '../../shared/src/paging.js';
import { type HubUnderTest, type RawAgent, startHub, until } from './hub-support.js';

const DEEP = 100_000;
const deepArray = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const settle = () => new Promise((r) => setTimeout(r, 100));

describe('the agent hub under attack by an enrolled agent', () => {
  let hub: HubUnderTest;

  beforeAll(async () => {
    hub = await startHub();
  });

  afterAll(async () => {
    await hub?.stop();
  });

  it('point 7: 10,000 garbage frames — terminated after the 201st, nothing past it read, one log line', async () => {
    const agent = await hub.connect(await hub.enrol('garbage'));
    const rejectedBefore = await hub.metric('ballast_frames_rejected_total');
    agent.hello('garbage-1');
    // Sent in one go, as an attacker would: the frames are all in flight when the limit is hit.
    for (let i = 0; i < 10_000 && agent.ws.readyState === WebSocket.OPEN; i++) agent.ws.send(`not json ${i}`);
    const code = await agent.closed;
    await settle();
    // Before: closed gracefully (1008) after 201, yet all 10,000 were decoded, answered and counted,
    // with 9,801 "closing session" warnings. Now: terminated (no close frame: 1006), 201 counted.
    expect(code).toBe(1006);
    expect((await hub.metric('ballast_frames_rejected_total')) - rejectedBefore).toBe(201);
    // Replies still queued when the socket was terminated are never flushed: at most 200 arrive.
    expect(agent.errors.length).toBeLessThanOrEqual(200);
    expect(agent.errors.every((c) => c === 'BALLAST_ERR_FRAME_MALFORMED')).toBe(true);
    const warnings = hub.logs.filter((l) => l.host === 'garbage' && (l.level as number) >= 40);
    expect(warnings.map((l) => l.msg)).toEqual(['terminating session: too many rejected frames']);
  });

  it('point 8: JSON nested 100k deep on the websocket is a coded refusal before parsing, not INTERNAL', async () => {
    const agent = await hub.connect(await hub.enrol('deep'));
    agent.hello('deep-1');
    await settle();
    const before = await hub.metric('ballast_json_too_deep_total', { channel: 'ws' });
    agent.ws.send(deepArray(DEEP));
    agent.ws.send(`{"type":"facts","facts":${deepArray(DEEP)}}`);
    agent.ws.send(`{"type":"event","kind":"x","message":"m","data":{"a":${deepArray(MAX_JSON_DEPTH)}}}`);
    await until('three refusals', () => agent.errors.length >= 3);
    expect(agent.errors).toEqual(['BALLAST_ERR_FRAME_TOO_DEEP', 'BALLAST_ERR_FRAME_TOO_DEEP', 'BALLAST_ERR_FRAME_TOO_DEEP']);
    expect((await hub.metric('ballast_json_too_deep_total', { channel: 'ws' })) - before).toBe(3);
    // The session survives a few refusals and still works.
    agent.ws.send(JSON.stringify({ type: 'hb', seq: 1, ts: Date.now() }));
    await until('heartbeat stored', () => hub.ctl.store.hosts.getByName('deep')?.lastHeartbeatAt !== null);
    agent.ws.close();
  });

  it('point 8: a body nested 100k deep on POST /v1/runs is 400 BALLAST_ERR_VALIDATION naming the limit, not 500', async () => {
    const before = await hub.metric('ballast_json_too_deep_total', { channel: 'http' });
    const post = (payload: string) =>
      hub.ctl.app.inject({
        method: 'POST',
        url: '/v1/runs',
        headers: { authorization: `Bearer ${hub.operatorToken}`, 'content-type': 'application/json' },
        payload,
      });
    for (const payload of [`{"role":"os-prep","hosts":["deep"],"vars":${deepArray(DEEP)}}`, deepArray(DEEP)]) {
      const r = await post(payload);
      expect(r.statusCode, r.body).toBe(400);
      expect(r.json()).toMatchObject({ code: 'BALLAST_ERR_VALIDATION' });
      expect(r.json().message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    }
    expect((await hub.metric('ballast_json_too_deep_total', { channel: 'http' })) - before).toBe(2);
    // Brackets inside strings are not nesting, and a body at the limit is parsed as before.
    const stringy = await post(`{"role":"no-such-role","hosts":["deep"],"vars":{"s":"${'['.repeat(1000)}"}}`);
    expect(stringy.statusCode).toBeLessThan(500);
    expect(stringy.json().message).not.toContain('deeper than');
  });

  it('point 6: an event flood is cut to 20/s (burst 100), counted, with one warning and one coded error', async () => {
    const agent = await hub.connect(await hub.enrol('flood'));
    agent.hello('flood-1');
    await settle();
    const droppedBefore = await hub.metric('ballast_agent_events_dropped_total', { reason: 'rate' });
    const started = Date.now();
    const data = { blob: 'x'.repeat(8 * 1024) };
    for (let i = 0; i < 2000; i++) agent.ws.send(JSON.stringify({ type: 'event', kind: 'component.repaired', message: `flood ${i}`, data }));
    await until('all events handled', async () => (await hub.metric('ballast_agent_events_dropped_total', { reason: 'rate' })) - droppedBefore + stored() >= 2000);
    const elapsedS = (Date.now() - started) / 1000;
    function stored(): number {
      return hub.ctl.store.events.list({ host: 'flood', limit: 5000 }).filter((e) => e.kind === 'agent.component.repaired').length;
    }
    // Before: all 2,000 stored (~16 MB). Now: the burst plus what the rate refilled meanwhile.
    expect(stored()).toBeLessThanOrEqual(100 + Math.ceil(20 * elapsedS) + 1);
    expect(stored()).toBeGreaterThanOrEqual(100);
    expect(agent.errors).toEqual(['BALLAST_ERR_RATE_LIMITED']);
    expect(hub.logs.filter((l) => l.host === 'flood' && l.msg === 'dropping agent events over the rate limit')).toHaveLength(1);
    // An event frame over its own size bound (16 KiB) is refused before it is stored.
    agent.ws.send(JSON.stringify({ type: 'event', kind: 'component.repaired', message: 'big', data: { blob: 'x'.repeat(20 * 1024) } }));
    await until('size refusal', () => agent.errors.length === 2);
    expect(agent.errors[1]).toBe('BALLAST_ERR_FRAME_TOO_LARGE');
    agent.ws.close();
  });

  it('point 6: a list call is bounded by bytes — 20 MB of old event rows come back as ≤ 1 MiB pages', async () => {
    // Rows as big as the hub accepted before event frames were bounded (just under 1 MiB each).
    for (let i = 0; i < 20; i++) hub.ctl.store.events.append({ host: 'flood', kind: 'agent.old', message: `old ${i}`, data: { blob: 'y'.repeat(1000 * 1000) } });
    const get = (url: string) => hub.ctl.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${hub.operatorToken}` } });
    const newest = await get('/v1/events?limit=1000');
    // Before: one call returned everything (54 MB in the attack). Now: one page within the budget.
    expect(newest.body.length).toBeLessThanOrEqual(LIST_PAGE_MAX_BYTES + 64 * 1024);
    const page = newest.json() as { items: Array<{ id: number; message: string }>; last: number; truncated?: boolean };
    expect(page.truncated).toBe(true);
    expect(page.items.at(-1)?.message).toBe('old 19'); // the newest are kept
    // Paging forwards from the start visits every row, one budget at a time.
    let after = 0;
    let seen = 0;
    for (let i = 0; i < 200; i++) {
      const r = await get(`/v1/events?limit=1000&after=${after}`);
      expect(r.body.length).toBeLessThanOrEqual(LIST_PAGE_MAX_BYTES + 1000 * 1000);
      const p = r.json() as { items: unknown[]; last: number; truncated?: boolean };
      seen += p.items.length;
      after = p.last;
      if (p.truncated !== true) break;
    }
    expect(seen).toBe(hub.ctl.store.events.list({ after: 0, limit: 100_000 }).length);
    expect(await hub.metric('ballast_list_truncated_total', { route: '/v1/events' })).toBeGreaterThan(1);
    expect(HOST_LIST_MAX_BYTES).toBeGreaterThan(LIST_PAGE_MAX_BYTES);
  });

  it('point 5: one identity on two machines is flagged conflict (event, metric, hosts) — a lone agent reconnecting is not', async () => {
    const creds = await hub.enrol('twin');
    const heartbeat = (a: RawAgent, seq: number) => a.ws.send(JSON.stringify({ type: 'hb', seq, ts: Date.now() }));
    const hostsOf = async () =>
      ((await hub.ctl.app.inject({ method: 'GET', url: '/v1/hosts', headers: { authorization: `Bearer ${hub.operatorToken}` } })).json() as {
        items: Array<{ name: string; state: string; conflict?: boolean }>;
      }).items;
    // A lone agent whose connection drops and comes back (same process, same session id) six times.
    const lone = await hub.enrol('lone');
    for (let i = 0; i < 6; i++) {
      const a = await hub.connect(lone);
      a.hello('lone-process');
      heartbeat(a, i);
      await settle();
    }
    // Two agents with one certificate (a copied data dir): each connection replaces the other, which was alive.
    const before = await hub.metric('ballast_identity_conflicts_total');
    for (let i = 0; i < 5; i++) {
      const a = await hub.connect(creds);
      a.hello(i % 2 === 0 ? 'machine-a' : 'machine-b');
      await settle();
      heartbeat(a, i);
      await settle();
    }
    expect((await hub.metric('ballast_identity_conflicts_total')) - before).toBe(1);
    expect(await hub.metric('ballast_hosts_in_conflict')).toBe(1);
    const hosts = await hostsOf();
    expect(hosts.find((h) => h.name === 'twin')).toMatchObject({ conflict: true, state: 'healthy' });
    expect(hosts.find((h) => h.name === 'lone')?.conflict).toBe(false);
    const conflicts = hub.ctl.store.events.list({ host: 'twin', limit: 100 }).filter((e) => e.kind === 'identity.conflict');
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]?.message).toContain('ballastctl host remove twin');
    // The remedy: removing the host clears the flag (and revokes the copied certificate).
    const removed = await hub.ctl.app.inject({ method: 'DELETE', url: '/v1/hosts/twin', headers: { authorization: `Bearer ${hub.operatorToken}` } });
    expect(removed.statusCode).toBe(200);
    expect(await hub.metric('ballast_hosts_in_conflict')).toBe(0);
    await expect(hub.connect(creds)).rejects.toThrow(/403/);
  });

  it('the depth scan is iterative and skips brackets inside strings', () => {
    expect(jsonDepth(deepArray(1_000_000), MAX_JSON_DEPTH)).toBe(MAX_JSON_DEPTH + 1);
    expect(jsonDepth('{"a":"[[[[\\"[[[[","b":[1,{"c":2}]}')).toBe(3);
    expect(jsonDepth(deepArray(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH);
  });
});
