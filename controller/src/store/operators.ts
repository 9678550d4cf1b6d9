/**
 * Operator accounts for ballastctl. Names are never reused, not even after revocation, so an
 * actor in the audit log always means one account.
 */
import type { Role } from '../../../shared/src/api.js';
import { BallastError } from '../../../shared/src/errors.js';
import { generateOperatorToken, hashOperatorToken, isOperatorToken } from '../auth/operator-token.js';
import type { Database } from './db.js';

/** One operator account; timestamps are ms since the epoch. */
export interface OperatorRecord {
  name: string;
  role: Role;
  createdAt: number;
  revokedAt: number | null;
}

/** A new account and its token; the plaintext token exists only here. */
export interface CreatedOperator {
  token: string;
  operator: OperatorRecord;
}

/** The account `ensureAdmin` creates on a fresh database. */
export const BOOTSTRAP_ADMIN = 'admin';

interface OperatorRow {
  name: string;
  role: Role;
  created_at: number;
  revoked_at: number | null;
}

const COLUMNS = 'name, role, created_at, revoked_at';

/** Reads and writes `operators`. */
export class OperatorRepo {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #get;
  readonly #byHash;
  readonly #revokedByHash;
  readonly #list;
  readonly #insert;
  readonly #revoke;
  readonly #activeAdmins;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#get = db.prepare<[string], OperatorRow>(`SELECT ${COLUMNS} FROM operators WHERE name = ?`);
    // A plain indexed lookup is safe against timing attacks: the key is a sha256 of a 256-bit
    // secret, so how long the lookup takes reveals nothing usable about the token.
    this.#byHash = db.prepare<[string], OperatorRow>(
      `SELECT ${COLUMNS} FROM operators WHERE token_hash = ? AND revoked_at IS NULL`,
    );
    this.#revokedByHash = db.prepare<[string], OperatorRow>(
      `SELECT ${COLUMNS} FROM operators WHERE token_hash = ? AND revoked_at IS NOT NULL`,
    );
    this.#list = db.prepare<[], OperatorRow>(`SELECT ${COLUMNS} FROM operators ORDER BY name`);
    this.#insert = db.prepare<[string, Role, string, number]>(
      'INSERT INTO operators (name, role, token_hash, created_at) VALUES (?, ?, ?, ?)',
    );
    this.#revoke = db.prepare<[number, string]>(
      'UPDATE operators SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL',
    );
    this.#activeAdmins = db
      .prepare<[], number>("SELECT COUNT(*) FROM operators WHERE role = 'admin' AND revoked_at IS NULL")
      .pluck();
  }

  /** The active operator holding `token`, or null (unknown, malformed or revoked). */
  findByToken(token: string): OperatorRecord | null {
    if (!isOperatorToken(token)) return null;
    const row = this.#byHash.get(hashOperatorToken(token));
    return row === undefined ? null : toRecord(row);
  }

  /**
   * The revoked account that `token` belonged to, or null: a call with a revoked token is still
   * refused, but the audit log names whose token it was (threat model: a leaked old token in use).
   */
  findRevokedByToken(token: string): OperatorRecord | null {
    if (!isOperatorToken(token)) return null;
    const row = this.#revokedByHash.get(hashOperatorToken(token));
    return row === undefined ? null : toRecord(row);
  }

  /** The operator named `name` (revoked or not), or null. */
  get(name: string): OperatorRecord | null {
    const row = this.#get.get(name);
    return row === undefined ? null : toRecord(row);
  }

  /**
   * Creates an account and returns its token, which is not stored and cannot be shown again.
   * Throws BALLAST_ERR_VALIDATION if the name is or was in use.
   */
  create(input: { name: string; role: Role }): CreatedOperator {
    return this.#db.transaction(() => this.#create(input)).immediate();
  }

  /** All accounts, revoked ones included, by name. */
  list(): OperatorRecord[] {
    return this.#list.all().map(toRecord);
  }

  /**
   * Revokes an account and returns it; revoking twice keeps the first time. Throws
   * BALLAST_ERR_NOT_FOUND for an unknown name, and BALLAST_ERR_VALIDATION for the last active
   * admin, because nobody could then manage accounts.
   */
  revoke(name: string): OperatorRecord {
    return this.#db
      .transaction(() => {
        const operator = this.get(name);
        if (operator === null) {
          throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to revoke operator ${name}: no such operator`);
        }
        if (operator.revokedAt === null && operator.role === 'admin' && this.#activeAdmins.get() === 1) {
          throw new BallastError(
            'BALLAST_ERR_VALIDATION',
            `failed to revoke operator ${name}: it is the last admin; create another admin first`,
          );
        }
        this.#revoke.run(this.#now(), name);
        return toRecord(this.#get.get(name)!);
      })
      .immediate();
  }

  /**
   * On a database without any active admin, creates the admin account `admin` and returns its
   * token (the controller prints it once at first start); otherwise returns null.
   */
  ensureAdmin(): string | null {
    return this.#db
      .transaction(() => {
        if (this.#activeAdmins.get() !== 0) return null;
        return this.#create({ name: BOOTSTRAP_ADMIN, role: 'admin' }).token;
      })
      .immediate();
  }

  #create(input: { name: string; role: Role }): CreatedOperator {
    const existing = this.get(input.name);
    if (existing !== null) {
      const why = existing.revokedAt === null ? 'exists' : 'was revoked, and names are not reused';
      throw new BallastError(
        'BALLAST_ERR_VALIDATION',
        `failed to create operator ${input.name}: an operator with this name ${why}; choose another name`,
      );
    }
    const token = generateOperatorToken();
    this.#insert.run(input.name, input.role, hashOperatorToken(token), this.#now());
    return { token, operator: toRecord(this.#get.get(input.name)!) };
  }
}

function toRecord(row: OperatorRow): OperatorRecord {
  return { name: row.name, role: row.role, createdAt: row.created_at, revokedAt: row.revoked_at };
}
