/**
 * Enrolled hosts. A removed host keeps its row (so its name and history stay visible to the hub
 * until the name is reused) and its certificate serial goes to `revoked_certs` for good.
 *
 * Callers read hosts through the host directory (fleet/directory.ts), which joins these rows with
 * the tracker's live state. No write here calls out: host events are emitted by the fleet after
 * the write returned (committed), so a subscriber never runs inside a transaction.
 */
import type { HostState } from '../../../shared/src/api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { applyLabelChange, type HostLabels, type LabelChange } from '../../../shared/src/labels.js';
import type { Facts, Health } from '../../../shared/src/protocol/facts.js';
import type { Database } from './db.js';

/** One host as stored; timestamps are ms since the epoch. */
export interface HostRecord {
  id: string;
  name: string;
  state: HostState;
  stateSince: number;
  enrolledAt: number;
  certSerial: string;
  certNotAfter: number;
  lastHeartbeatAt: number | null;
  lastSeq: number | null;
  address: string | null;
  agentVersion: string | null;
  sessionId: string | null;
  facts: Facts | null;
  health: Health | null;
  /** Operator-set labels (migration 11), e.g. `pool: spare`. */
  labels: HostLabels;
  removedAt: number | null;
}

/** What enrolment knows about a new host. */
export interface NewHost {
  id: string;
  name: string;
  certSerial: string;
  certNotAfter: number;
  enrolledAt: number;
}

/** The current websocket session of a host; all null once it disconnects. */
export interface HostConnection {
  address: string | null;
  agentVersion: string | null;
  sessionId: string | null;
}

/** Lookups return active hosts only unless asked, because the API must not show removed ones. */
export interface GetHostOptions {
  includeRemoved?: boolean;
}

interface HostRow {
  id: string;
  name: string;
  state: HostState;
  state_since: number;
  enrolled_at: number;
  cert_serial: string;
  cert_not_after: number;
  /** From host_heartbeats (LEFT JOIN): null until the first heartbeat was stored. */
  last_heartbeat_at: number | null;
  last_seq: number | null;
  address: string | null;
  agent_version: string | null;
  session_id: string | null;
  facts_json: string | null;
  health_json: string | null;
  labels_json: string;
  removed_at: number | null;
}

/** Reads and writes the `hosts` and `revoked_certs` tables. */
export class HostRepo {
  readonly #db: Database;
  readonly #byName;
  readonly #byId;
  readonly #list;
  readonly #insert;
  readonly #deleteById;
  readonly #setState;
  readonly #setConnection;
  readonly #setFacts;
  readonly #setHealth;
  readonly #markRemoved;
  readonly #setLabels;
  readonly #revoke;
  readonly #isRevoked;

  constructor(db: Database) {
    this.#db = db;
    // The heartbeat lives in its own narrow table (migration 10); reads join it back in.
    const select = 'SELECT h.*, hb.at AS last_heartbeat_at, hb.seq AS last_seq FROM hosts h LEFT JOIN host_heartbeats hb ON hb.host_id = h.id';
    this.#byName = db.prepare<[string], HostRow>(`${select} WHERE h.name = ?`);
    this.#byId = db.prepare<[string], HostRow>(`${select} WHERE h.id = ?`);
    this.#list = db.prepare<[], HostRow>(`${select} WHERE h.removed_at IS NULL ORDER BY h.name`);
    this.#insert = db.prepare<[NewHost]>(
      `INSERT INTO hosts (id, name, state, state_since, enrolled_at, cert_serial, cert_not_after)
       VALUES (@id, @name, 'pending', @enrolledAt, @enrolledAt, @certSerial, @certNotAfter)`,
    );
    this.#deleteById = db.prepare<[string]>('DELETE FROM hosts WHERE id = ?');
    // Only a real transition moves state_since: it means "in this state since".
    this.#setState = db.prepare<[HostState, number, string, HostState]>(
      'UPDATE hosts SET state = ?, state_since = ? WHERE id = ? AND removed_at IS NULL AND state != ?',
    );
    this.#setConnection = db.prepare<[string | null, string | null, string | null, string]>(
      'UPDATE hosts SET address = ?, agent_version = ?, session_id = ? WHERE id = ? AND removed_at IS NULL',
    );
    this.#setFacts = db.prepare<[string, string]>(
      'UPDATE hosts SET facts_json = ? WHERE id = ? AND removed_at IS NULL',
    );
    this.#setHealth = db.prepare<[string, string]>(
      'UPDATE hosts SET health_json = ? WHERE id = ? AND removed_at IS NULL',
    );
    this.#setLabels = db.prepare<[string, string]>('UPDATE hosts SET labels_json = ? WHERE id = ? AND removed_at IS NULL');
    this.#markRemoved = db.prepare<[number, string]>(
      'UPDATE hosts SET removed_at = ? WHERE id = ? AND removed_at IS NULL',
    );
    // OR IGNORE: a serial revoked once stays revoked with its first reason and time.
    this.#revoke = db.prepare<[string, string, number, string]>(
      'INSERT OR IGNORE INTO revoked_certs (serial, host_id, revoked_at, reason) VALUES (?, ?, ?, ?)',
    );
    this.#isRevoked = db.prepare<[string], number>('SELECT 1 FROM revoked_certs WHERE serial = ?').pluck();
  }

  /**
   * Enrols a host in state `pending`. Throws BALLAST_ERR_HOST_EXISTS if an active host has the
   * name; a removed host of that name is replaced (its health samples go with it, its revoked
   * serial stays revoked).
   */
  create(host: NewHost): HostRecord {
    return this.#db.transaction(() => {
      const existing = this.#byName.get(host.name);
      if (existing !== undefined) {
        if (existing.removed_at === null) {
          throw new BallastError(
            'BALLAST_ERR_HOST_EXISTS',
            `failed to enrol host ${host.name}: a host with this name is already enrolled; ` +
              `run \`ballastctl host remove ${host.name}\` first`,
          );
        }
        this.#deleteById.run(existing.id);
      }
      const { id, name, certSerial, certNotAfter, enrolledAt } = host;
      this.#insert.run({ id, name, certSerial, certNotAfter, enrolledAt });
      return this.#mustGet(host.id);
    }).immediate();
  }

  /** The host named `name`, or null. */
  getByName(name: string, options: GetHostOptions = {}): HostRecord | null {
    return visible(this.#byName.get(name), options);
  }

  /** The host with id `id`, or null. */
  getById(id: string, options: GetHostOptions = {}): HostRecord | null {
    return visible(this.#byId.get(id), options);
  }

  /** All active hosts, ordered by name. */
  list(): HostRecord[] {
    return this.#list.all().map(toRecord);
  }

  /**
   * Moves a host to `state` as of `at`. Returns false when it already was in that state (and then
   * keeps its stateSince). Throws BALLAST_ERR_NOT_FOUND for an unknown or removed host.
   */
  setState(id: string, state: HostState, at: number): boolean {
    if (this.#setState.run(state, at, id, state).changes === 1) return true;
    this.#mustGet(id);
    return false;
  }

  /** Records the host's current session (or clears it with nulls). Throws BALLAST_ERR_NOT_FOUND. */
  setConnection(id: string, connection: HostConnection): void {
    const { address, agentVersion, sessionId } = connection;
    this.#expectOne(this.#setConnection.run(address, agentVersion, sessionId, id).changes, id);
  }

  /** Stores the facts the agent reported at connect. Throws BALLAST_ERR_NOT_FOUND. */
  setFacts(id: string, facts: Facts): void {
    this.#expectOne(this.#setFacts.run(JSON.stringify(facts), id).changes, id);
  }

  /** Stores the latest health snapshot (history lives in health_samples). Throws BALLAST_ERR_NOT_FOUND. */
  setHealth(id: string, health: Health): void {
    this.#expectOne(this.#setHealth.run(JSON.stringify(health), id).changes, id);
  }

  /**
   * Applies a label change (kubectl label's rules, shared/src/labels.ts) in one transaction and
   * returns the record. Throws BALLAST_ERR_NOT_FOUND, BALLAST_ERR_LABEL_INVALID or BALLAST_ERR_LABEL_EXISTS.
   */
  changeLabels(id: string, change: LabelChange): HostRecord {
    return this.#db.transaction(() => {
      const host = this.#mustGet(id);
      const next = applyLabelChange(host.labels, change, host.name);
      this.#expectOne(this.#setLabels.run(JSON.stringify(next), id).changes, id);
      return this.#mustGet(id);
    }).immediate();
  }

  /**
   * Removes an active host as of `at` and revokes its certificate, in one transaction, and returns
   * the removed record. Throws BALLAST_ERR_NOT_FOUND for an unknown or already removed host.
   */
  remove(id: string, at: number, reason: string): HostRecord {
    return this.#db.transaction(() => {
      const host = this.#mustGet(id);
      this.#markRemoved.run(at, id);
      this.#revoke.run(host.certSerial, id, at, reason);
      return this.#mustGet(id, { includeRemoved: true });
    }).immediate();
  }

  /** True if the certificate with this serial was revoked. */
  isCertRevoked(serial: string): boolean {
    return this.#isRevoked.get(serial) !== undefined;
  }

  /** Why the certificate with this serial was revoked, or null when it was not. */
  revocationReason(serial: string): string | null {
    const row = this.#db.prepare<[string], { reason: string }>('SELECT reason FROM revoked_certs WHERE serial = ?').get(serial);
    return row === undefined ? null : row.reason;
  }

  #mustGet(id: string, options: GetHostOptions = {}): HostRecord {
    const host = this.getById(id, options);
    if (host === null) throw notFound(id);
    return host;
  }

  #expectOne(changes: number, id: string): void {
    if (changes !== 1) throw notFound(id);
  }
}

function notFound(id: string): BallastError {
  return new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find host ${id}: no enrolled host has this id`);
}

function visible(row: HostRow | undefined, options: GetHostOptions): HostRecord | null {
  if (row === undefined) return null;
  if (row.removed_at !== null && options.includeRemoved !== true) return null;
  return toRecord(row);
}

// The JSON columns were validated against FactsSchema/HealthSchema before they were written.
function toRecord(row: HostRow): HostRecord {
  return {
    id: row.id,
    name: row.name,
    state: row.state,
    stateSince: row.state_since,
    enrolledAt: row.enrolled_at,
    certSerial: row.cert_serial,
    certNotAfter: row.cert_not_after,
    lastHeartbeatAt: row.last_heartbeat_at,
    lastSeq: row.last_seq,
    address: row.address,
    agentVersion: row.agent_version,
    sessionId: row.session_id,
    facts: row.facts_json === null ? null : (JSON.parse(row.facts_json) as Facts),
    health: row.health_json === null ? null : (JSON.parse(row.health_json) as Health),
    labels: JSON.parse(row.labels_json) as HostLabels,
    removedAt: row.removed_at,
  };
}
