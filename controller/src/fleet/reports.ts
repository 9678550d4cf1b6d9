/**
 * What an agent session reports about its host (connection, facts, health), stored and then
 * announced as host events. Before, the VIP service was called from inside the health transaction;
 * now every subscriber hears after the commit.
 *
 * Writes are skipped when they would store what is already stored (report-memo.ts); the events are
 * emitted for every report all the same, so subscribers (the VIP service) see each snapshot.
 */
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { SessionStorePort } from '../hub/agent-session.js';
import type { HostConnection } from '../store/hosts.js';
import type { Store } from '../store/store.js';
import type { LiveHosts } from './directory.js';
import type { HostEventSink, HostRef } from './events.js';
import type { ReportMemo } from './report-memo.js';

/** The host writes of the hub's {@link SessionStorePort}: each commits, then emits. */
export type HostReports = Pick<SessionStorePort, 'saveConnection' | 'saveFacts' | 'saveHealth'>;

/** Options of {@link createHostReports}. */
export interface HostReportsOptions {
  store: Pick<Store, 'db' | 'hosts' | 'healthSamples'>;
  /** Names hosts for the events without a store read (a health snapshot per host every few seconds). */
  live: LiveHosts;
  events: HostEventSink;
  /** What is stored already; seeded by the composition root. */
  memo: ReportMemo;
}

/** Builds the {@link HostReports} over the store. A write that throws emits nothing. */
export function createHostReports(opts: HostReportsOptions): HostReports {
  const { store, live, events, memo } = opts;
  // One transaction: the latest snapshot and its history row commit together (one WAL commit, not two).
  const storeHealth = store.db.transaction((hostId: string, health: Health, at: number) => {
    store.hosts.setHealth(hostId, health);
    store.healthSamples.append(hostId, health, at);
  });
  const ref = (hostId: string): HostRef | null => {
    const host = live.get(hostId) ?? store.hosts.getById(hostId);
    return host === null ? null : { id: host.id, name: host.name };
  };
  return {
    saveConnection(hostId: string, info: HostConnection & { agentVersion: string; sessionId: string }): void {
      const key = memo.connectionToWrite(hostId, info);
      if (key !== null) {
        store.hosts.setConnection(hostId, info);
        memo.markConnection(hostId, key);
      }
      const host = ref(hostId);
      if (host !== null) events.emit({ type: 'host.connected', host, sessionId: info.sessionId, address: info.address, agentVersion: info.agentVersion });
    },
    saveFacts(hostId: string, facts: Facts): void {
      // No event: nothing subscribes to facts yet; readers see them through the directory.
      const key = memo.factsToWrite(hostId, facts);
      if (key === null) return;
      store.hosts.setFacts(hostId, facts);
      memo.markFacts(hostId, key);
    },
    saveHealth(hostId: string, health: Health, at: number): void {
      const key = memo.healthToWrite(hostId, health, at);
      if (key !== null) {
        storeHealth(hostId, health, at);
        memo.markHealth(hostId, key, at);
      }
      const host = ref(hostId);
      if (host !== null) events.emit({ type: 'host.health', host, health, at });
    },
  };
}
