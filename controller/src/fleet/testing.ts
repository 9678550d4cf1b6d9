/**
 * Test doubles of the fleet's ports (STYLE.md §12): stored hosts in memory, for tests that need a
 * directory but no SQLite file (the VIP service's fake fleet). No test-framework imports.
 */
import type { GetHostOptions, HostRecord } from '../store/hosts.js';
import type { HostInventory } from './directory.js';

/** A stored host: pending, never connected, no facts or health, unless `over` says otherwise. */
export function hostRecord(over: Partial<HostRecord> & Pick<HostRecord, 'id' | 'name'>): HostRecord {
  return {
    state: 'pending',
    stateSince: 0,
    enrolledAt: 0,
    certSerial: `serial-${over.id}`,
    certNotAfter: 0,
    lastHeartbeatAt: null,
    lastSeq: null,
    address: null,
    agentVersion: null,
    sessionId: null,
    facts: null,
    health: null,
    labels: {},
    removedAt: null,
    ...over,
  };
}

/** store.hosts' reads over a map; removed hosts are hidden the way the store hides them. */
export class MemoryHostInventory implements HostInventory {
  readonly records = new Map<string, HostRecord>();

  add(record: HostRecord): void {
    this.records.set(record.id, record);
  }

  getByName(name: string, options: GetHostOptions = {}): HostRecord | null {
    for (const r of this.records.values()) if (r.name === name) return visible(r, options);
    return null;
  }

  getById(id: string, options: GetHostOptions = {}): HostRecord | null {
    const r = this.records.get(id);
    return r === undefined ? null : visible(r, options);
  }

  list(): HostRecord[] {
    return [...this.records.values()].filter((r) => r.removedAt === null).sort((a, b) => a.name.localeCompare(b.name));
  }
}

function visible(record: HostRecord, options: GetHostOptions): HostRecord | null {
  return record.removedAt !== null && options.includeRemoved !== true ? null : record;
}
