import type { AuditEntry, BallastEvent, HostSummary, OperatorInfo, TokenInfo } from '../../../shared/src/api.js';
import type { HostTracker } from '../hub/host-tracker.js';
import type { AuditRecord } from '../store/audit.js';
import type { EventRecord } from '../store/events.js';
import type { HostRecord } from '../store/hosts.js';
import type { OperatorRecord } from '../store/operators.js';
import { type TokenRecord, tokenStatus } from '../store/tokens.js';

/** ms since epoch → RFC 3339. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A host as the API shows it: stored identity and facts, live state from the tracker. */
export function hostSummary(record: HostRecord, tracker: HostTracker): HostSummary {
  const live = tracker.get(record.id);
  const lastHb = live?.lastHeartbeatAt ?? record.lastHeartbeatAt;
  const facts = record.facts;
  return {
    name: record.name,
    id: record.id,
    state: live?.state ?? record.state,
    connected: live?.session !== null && live?.session !== undefined,
    stateSince: iso(live?.stateSince ?? record.stateSince),
    lastHeartbeatAt: lastHb === null ? null : iso(lastHb),
    enrolledAt: iso(record.enrolledAt),
    address: record.address,
    agentVersion: record.agentVersion,
    os: facts === null ? null : `${facts.os.distro} ${facts.os.release}`.trim(),
    kernel: facts?.os.kernel ?? null,
    cpus: facts?.cpu.cores ?? null,
    memoryBytes: facts?.memory.totalBytes ?? null,
    failingChecks: live?.failingChecks ?? (record.health?.checks.filter((c) => !c.ok).map((c) => c.name) ?? []),
    conflict: tracker.conflictOf(record.id) !== null,
    labels: record.labels,
  };
}

export function tokenInfo(record: TokenRecord, now: number): TokenInfo {
  return {
    id: record.id,
    description: record.description,
    createdAt: iso(record.createdAt),
    createdBy: record.createdBy,
    expiresAt: iso(record.expiresAt),
    usesAllowed: record.usesAllowed,
    usesCount: record.usesCount,
    revoked: record.revokedAt !== null,
    status: tokenStatus(record, now),
  };
}

export function operatorInfo(record: OperatorRecord): OperatorInfo {
  return { name: record.name, role: record.role, createdAt: iso(record.createdAt), revoked: record.revokedAt !== null };
}

export function eventOut(record: EventRecord): BallastEvent {
  return { id: record.id, ts: iso(record.ts), host: record.host, kind: record.kind, message: record.message, data: record.data };
}

export function auditOut(record: AuditRecord): AuditEntry {
  return {
    id: record.id,
    ts: iso(record.ts),
    actor: record.actor,
    role: record.role,
    action: record.action,
    target: record.target,
    outcome: record.outcome,
    detail: record.detail,
  };
}
