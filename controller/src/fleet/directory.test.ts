/**
 * The host directory and its events over a real SQLite file (as the store tests) and a real
 * tracker: the joined view, and that every event comes after its commit, in order.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../shared/src/log.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { SessionHandle } from '../hub/host-tracker.js';
import { createMetrics } from '../metrics.js';
import { tempStores } from '../store/testing.js';
import type { HostEvent, HostEventType } from './events.js';
import { createFleet } from './fleet.js';
import { recordTransitions } from './journal.js';

const stores = tempStores('ballast-fleet-');
afterEach(() => stores.cleanup());

const facts = { os: { platform: 'linux', distro: 'Debian', release: '12', codename: 'bookworm', kernel: '6.1.0', arch: 'x64' } } as Facts;
const health = (failing: string[] = []): Health => ({
  ts: 1,
  load: [0, 0, 0],
  memory: { totalBytes: 1, availableBytes: 1 },
  disks: [],
  clockOffsetMs: null,
  checks: [{ name: 'containerd', ok: true, message: 'active' }, ...failing.map((name) => ({ name, ok: false, message: 'failing' }))],
});
const TYPES: HostEventType[] = ['host.enrolled', 'host.connected', 'host.disconnected', 'host.state-changed', 'host.health', 'host.removed'];

function session(id: string): SessionHandle & { closed: string[] } {
  const closed: string[] = [];
  return { sessionId: id, closed, close: (_code, reason) => closed.push(reason), request: () => Promise.reject(new Error('not used')) };
}

function setup() {
  let now = 1_000_000;
  const clock = () => now;
  const store = stores.open(stores.path(), clock);
  const errors: Array<{ err: unknown; event: HostEvent }> = [];
  const fleet = createFleet({ store, log: silentLogger(), now: clock, onListenerError: (err, event) => errors.push({ err, event }) });
  const { tracker, directory, reports } = fleet;
  const metrics = createMetrics({ collectProcess: false });
  recordTransitions(directory, { metrics, journal: store.events });
  const seen: string[] = [];
  for (const type of TYPES) {
    directory.on(type, (e) => seen.push(e.type === 'host.state-changed' ? `${e.type}:${e.host.name} ${e.from}→${e.to}` : `${e.type}:${e.host.name}`));
  }
  /** Enrols as enrolment does: the row commits, then the tracker learns of it. */
  const enrol = (name: string) => {
    store.hosts.create({ id: `id-${name}`, name, certSerial: `serial-${name}`, certNotAfter: now + 1e9, enrolledAt: now });
    tracker.add({ id: `id-${name}`, name, enrolledAt: now });
    return `id-${name}`;
  };
  /** Connects as a session's hello does: attach, then the connection is stored. */
  const connect = (id: string, s: SessionHandle) => {
    tracker.attach(id, s);
    reports.saveConnection(id, { address: '198.18.0.2', agentVersion: '0.1.0', sessionId: `agent-${s.sessionId}` });
  };
  /** Removes as the API does: the row commits, then the tracker forgets the host. */
  const remove = (id: string) => {
    store.hosts.remove(id, now, 'removed by test');
    tracker.remove(id);
  };
  const advance = (ms: number) => {
    now += ms;
  };
  return { store, tracker, directory, reports, metrics, seen, errors, enrol, connect, remove, advance, at: clock };
}

describe('host directory', () => {
  it('joins stored identity, facts and health with the live state and session; removed hosts are gone', () => {
    const { store, tracker, directory, reports, enrol, connect, remove, at } = setup();
    const id = enrol('node-1');
    const other = enrol('node-0');
    const s = session('s1');
    connect(id, s);
    reports.saveFacts(id, facts);
    reports.saveHealth(id, health(), at());
    tracker.heartbeat(id, at());

    const view = directory.get('node-1');
    expect(view).toMatchObject({
      id,
      name: 'node-1',
      address: '198.18.0.2',
      agentVersion: '0.1.0',
      certSerial: 'serial-node-1',
      state: 'healthy',
      stateSince: at(),
      lastHeartbeatAt: at(),
      connected: true,
      arch: 'amd64',
      facts,
      health: health(),
      failingChecks: [],
    });
    expect(view?.session).toBe(s);
    expect(directory.getById(id)).toEqual(view);
    expect(directory.session(id)).toBe(s);
    expect(directory.list().map((h) => [h.name, h.state, h.connected])).toEqual([
      ['node-0', 'pending', false],
      ['node-1', 'healthy', true],
    ]);
    // The tracker's transition was committed too.
    expect(store.hosts.getById(id)?.state).toBe('healthy');

    remove(other);
    expect(directory.get('node-0')).toBeNull();
    expect(directory.getById(other)).toBeNull();
    expect(directory.session(other)).toBeNull();
    expect(directory.list().map((h) => h.name)).toEqual(['node-1']);
    expect(directory.get('nope')).toBeNull();
  });

  it('shows a host the tracker does not track as stored: its state, not connected, failing checks of its snapshot', () => {
    const { store, directory } = setup();
    store.hosts.create({ id: 'h9', name: 'node-9', certSerial: 'x', certNotAfter: 1, enrolledAt: 5 });
    store.hosts.setState('h9', 'healthy', 6);
    store.hosts.setState('h9', 'unreachable', 7);
    store.hosts.setHealth('h9', health(['disk:/']));
    expect(directory.get('node-9')).toMatchObject({ state: 'unreachable', stateSince: 7, connected: false, session: null, arch: null, failingChecks: ['disk:/'] });
  });
});

describe('host events', () => {
  it('come after their commit, in the order things happened, and every transition is in the event log', async () => {
    const { store, tracker, directory, reports, metrics, seen, enrol, connect, remove, advance, at } = setup();
    const committed: string[] = [];
    directory.on('host.connected', (e) => committed.push(`connected:${store.hosts.getById(e.host.id)?.sessionId}`));
    directory.on('host.state-changed', (e) => committed.push(`state:${store.hosts.getById(e.host.id)?.state}`));
    directory.on('host.health', (e) => committed.push(`health:${store.healthSamples.latest(e.host.id, 1).length}`));
    const id = enrol('node-1');
    const s = session('s1');
    connect(id, s);
    tracker.heartbeat(id, at());
    reports.saveHealth(id, health(['disk:/']), at());
    tracker.setFailingChecks(id, ['disk:/']);
    advance(3001);
    tracker.detach(id, s);
    remove(id);

    expect(seen).toEqual([
      'host.enrolled:node-1',
      'host.connected:node-1',
      'host.state-changed:node-1 pending→healthy',
      'host.health:node-1',
      'host.state-changed:node-1 healthy→degraded',
      // The deadline passed before the socket closed: the state change comes first, as in the event log.
      'host.state-changed:node-1 degraded→unreachable',
      'host.disconnected:node-1',
      'host.removed:node-1',
    ]);
    expect(committed).toEqual(['connected:agent-s1', 'state:healthy', 'health:1', 'state:degraded', 'state:unreachable']);
    expect(s.closed).toEqual([]); // detached before the removal: nothing left to close
    expect(store.events.list({ host: 'node-1', limit: 10 }).map((e) => `${e.kind}: ${e.message}`)).toEqual(['state: pending → healthy: heartbeat', 'state: healthy → degraded: checks failing: disk:/', 'state: degraded → unreachable: no heartbeat for 3001 ms']);
    const counted = (await metrics.hostTransitions.get()).values.map((v) => [v.labels.to, v.value]);
    expect(counted).toEqual([
      ['healthy', 1],
      ['degraded', 1],
      ['unreachable', 1],
    ]);
  });

  it('a closed socket alone does not change the state; the heartbeat deadline does (README "Host states")', () => {
    const { tracker, directory, seen, enrol, connect, advance, at } = setup();
    const id = enrol('node-1');
    const s = session('s1');
    connect(id, s);
    tracker.heartbeat(id, at());
    advance(500);
    tracker.detach(id, s);
    expect(directory.get('node-1')).toMatchObject({ state: 'healthy', connected: false });
    advance(2501);
    tracker.evaluateAll();
    expect(seen.slice(2)).toEqual(['host.state-changed:node-1 pending→healthy', 'host.disconnected:node-1', 'host.state-changed:node-1 healthy→unreachable']);
  });

  it('a session replaced by a newer one is no disconnect; removing a connected host closes its session', () => {
    const { tracker, directory, seen, enrol, connect, remove } = setup();
    const id = enrol('node-1');
    const s1 = session('s1');
    const s2 = session('s2');
    connect(id, s1);
    connect(id, s2);
    tracker.detach(id, s1); // the old socket's close arrives late
    expect(directory.session(id)).toBe(s2);
    remove(id);
    expect(s2.closed).toEqual(['host removed']);
    expect(seen).toEqual(['host.enrolled:node-1', 'host.connected:node-1', 'host.connected:node-1', 'host.removed:node-1']);
  });

  it('a subscriber that throws neither undoes the write nor silences the others', () => {
    const { store, directory, reports, errors, enrol, at } = setup();
    const id = enrol('node-1');
    const heard: string[] = [];
    directory.on('host.health', () => {
      throw new Error('subscriber bug');
    });
    directory.on('host.health', (e) => heard.push(e.host.name));
    expect(() => reports.saveHealth(id, health(), at())).not.toThrow();
    expect(store.hosts.getById(id)?.health).toEqual(health());
    expect(store.healthSamples.latest(id, 5)).toHaveLength(1);
    expect(heard).toEqual(['node-1']);
    expect(errors.map((e) => [e.event.type, (e.err as Error).message])).toEqual([['host.health', 'subscriber bug']]);
  });

  it('a write that fails tells nobody', () => {
    const { reports, seen, enrol, remove, at } = setup();
    const id = enrol('node-1');
    remove(id);
    seen.length = 0;
    expect(() => reports.saveHealth(id, health(), at())).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' }));
    expect(() => reports.saveConnection('nope', { address: null, agentVersion: '0.1.0', sessionId: 'x' })).toThrow(expect.objectContaining({ code: 'BALLAST_ERR_NOT_FOUND' }));
    expect(seen).toEqual([]);
  });

  it('unsubscribes', () => {
    const { directory, enrol } = setup();
    const heard: string[] = [];
    const off = directory.on('host.enrolled', (e) => heard.push(e.host.name));
    enrol('a');
    off();
    enrol('b');
    expect(heard).toEqual(['a']);
  });
});
