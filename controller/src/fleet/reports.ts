/**
 * What an agent session reports about its host (connection, facts, health), stored and then
 * announced as host events. Before, the VIP service was called from inside the health transaction;
 * now every subscriber hears after the commit.
 */
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { SessionStorePort } from '../hub/agent-session.js';
import type { HostConnection } from '../store/hosts.js';
import type { Store } from '../store/store.js';
import type { LiveHosts } from './directory.js';
import type { HostEventSink, HostRef } from './events.js';

/** The host writes of the hub's {@link SessionStorePort}: each commits, then emits. */
export type HostReports = Pick<SessionStorePort, 'saveConnection' | 'saveFacts' | 'saveHealth'>;

/** Options of {@link createHostReports}. */
export interface HostReportsOptions {
  store: Pick<Store, 'db' | 'hosts' | 'healthSamples'>;
  /** Names hosts for the events without a store read (a health snapshot per host every few seconds). */
  live: LiveHosts;
  events: HostEventSink;
}

/** Builds the {@link HostReports} over the store. A write that throws emits nothing. */
export function createHostReports(opts: HostReportsOptions): HostReports {
  const { store, live, events } = opts;
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
      store.hosts.setConnection(hostId, info);
      const host = ref(hostId);
      if (host !== null) events.emit({ type: 'host.connected', host, sessionId: info.sessionId, address: info.address, agentVersion: info.agentVersion });
    },
    saveFacts(hostId: string, facts: Facts): void {
      // No event: nothing subscribes to facts yet; readers see them through the directory.
      store.hosts.setFacts(hostId, facts);
    },
    saveHealth(hostId: string, health: Health, at: number): void {
      storeHealth(hostId, health, at);
      const host = ref(hostId);
      if (host !== null) events.emit({ type: 'host.health', host, health, at });
    },
  };
}
