/**
 * Join tokens. Only the sha256 of a secret is stored; records handed out carry no hash at all,
 * so nothing derived from a secret can leak through the API by accident.
 */
import { BallastError } from '../../../shared/src/errors.js';
import { digestsEqual } from '../auth/hash.js';
import type { Database } from './db.js';

/** A join token as stored, minus its secret hash; timestamps are ms since the epoch. */
export interface TokenRecord {
  id: string;
  description: string;
  createdAt: number;
  createdBy: string;
  expiresAt: number;
  /** null = unlimited uses until expiry. */
  usesAllowed: number | null;
  usesCount: number;
  revokedAt: number | null;
}

/** The lifecycle state the API shows (TokenInfo.status). */
export type TokenStatus = 'active' | 'expired' | 'exhausted' | 'revoked';

/** What `create` needs; the id and hash come from auth/join-token.ts. */
export interface NewToken {
  id: string;
  secretHash: string;
  description?: string;
  createdBy: string;
  /** Lifetime from now; the token is expired at exactly createdAt + ttlMs. */
  ttlMs: number;
  usesAllowed?: number | null;
}

/**
 * The status of a token at `now`. Revocation wins over expiry, expiry over exhaustion, because
 * that is the order in which an operator acts on them. A token is expired from `expiresAt` on.
 */
export function tokenStatus(token: TokenRecord, now: number): TokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (now >= token.expiresAt) return 'expired';
  if (token.usesAllowed !== null && token.usesCount >= token.usesAllowed) return 'exhausted';
  return 'active';
}

function exhausted(token: TokenRecord): BallastError {
  return new BallastError('BALLAST_ERR_TOKEN_EXHAUSTED', `failed to use join token ${token.id}: all ${token.usesAllowed} uses are taken`);
}

interface TokenRow {
  id: string;
  secret_hash: string;
  description: string;
  created_at: number;
  created_by: string;
  expires_at: number;
  uses_allowed: number | null;
  uses_count: number;
  revoked_at: number | null;
}

/** Reads and writes `join_tokens`. */
export class TokenRepo {
  readonly #db: Database;
  readonly #now: () => number;
  readonly #get;
  readonly #list;
  readonly #insert;
  readonly #use;
  readonly #revoke;

  constructor(db: Database, options: { now?: () => number } = {}) {
    this.#db = db;
    this.#now = options.now ?? Date.now;
    this.#get = db.prepare<[string], TokenRow>('SELECT * FROM join_tokens WHERE id = ?');
    this.#list = db.prepare<[], TokenRow>('SELECT * FROM join_tokens ORDER BY created_at, id');
    this.#insert = db.prepare<[string, string, string, number, string, number, number | null]>(
      `INSERT INTO join_tokens (id, secret_hash, description, created_at, created_by, expires_at, uses_allowed)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    );
    // The WHERE repeats the limit so that the row itself guards against overuse.
    this.#use = db.prepare<[string]>(
      `UPDATE join_tokens SET uses_count = uses_count + 1
       WHERE id = ? AND (uses_allowed IS NULL OR uses_count < uses_allowed)`,
    );
    this.#revoke = db.prepare<[number, string]>(
      'UPDATE join_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
    );
  }

  /** Stores a new token and returns it. Throws BALLAST_ERR_VALIDATION if the id is taken. */
  create(token: NewToken): TokenRecord {
    const createdAt = this.#now();
    const insert = this.#db.transaction(() => {
      if (this.#get.get(token.id) !== undefined) {
        throw new BallastError('BALLAST_ERR_VALIDATION', `failed to create join token ${token.id}: the id is taken`);
      }
      this.#insert.run(
        token.id,
        token.secretHash,
        token.description ?? '',
        createdAt,
        token.createdBy,
        createdAt + token.ttlMs,
        token.usesAllowed ?? null,
      );
    });
    insert.immediate();
    return this.#mustGet(token.id);
  }

  /** The token with this id, or null. */
  get(id: string): TokenRecord | null {
    const row = this.#get.get(id);
    return row === undefined ? null : toRecord(row);
  }

  /** All tokens, including revoked and expired ones, oldest first. */
  list(): TokenRecord[] {
    return this.#list.all().map(toRecord);
  }

  /**
   * Checks a token without using it: the same refusals as {@link consume}, in the same order. A
   * wrong secret gives the same error as an unknown id, and is checked first (in constant time), so
   * a caller without the secret learns nothing about the token. Enrolment calls this before any
   * costly work (CSR parsing, signing) and before it looks at the host name.
   */
  verify(id: string, secretHash: string, now: number): TokenRecord {
    const row = this.#get.get(id);
    if (row === undefined || !digestsEqual(row.secret_hash, secretHash)) {
      throw new BallastError('BALLAST_ERR_TOKEN_INVALID', 'failed to use join token: the token is unknown');
    }
    const token = toRecord(row);
    const status = tokenStatus(token, now);
    if (status === 'revoked') {
      throw new BallastError('BALLAST_ERR_TOKEN_REVOKED', `failed to use join token ${id}: it was revoked`);
    }
    if (status === 'expired') {
      throw new BallastError(
        'BALLAST_ERR_TOKEN_EXPIRED',
        `failed to use join token ${id}: it expired at ${new Date(token.expiresAt).toISOString()}; ` +
          'create a new one with `ballastctl token create`',
      );
    }
    if (status === 'exhausted') throw exhausted(token);
    return token;
  }

  /**
   * Uses a token once, atomically: {@link verify} and the increment happen in one IMMEDIATE
   * transaction, so two controllers (or two connections) cannot both take the last use. Returns the
   * token after the use.
   */
  consume(id: string, secretHash: string, now: number): TokenRecord {
    return this.#db
      .transaction(() => {
        const token = this.verify(id, secretHash, now);
        if (this.#use.run(id).changes !== 1) throw exhausted(token);
        return this.#mustGet(id);
      })
      .immediate();
  }

  /**
   * Revokes a token as of `at` and returns it; revoking twice keeps the first time. Throws
   * BALLAST_ERR_NOT_FOUND for an unknown id.
   */
  revoke(id: string, at: number): TokenRecord {
    this.#revoke.run(at, id);
    return this.#mustGet(id);
  }

  #mustGet(id: string): TokenRecord {
    const token = this.get(id);
    if (token === null) {
      throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find join token ${id}: no token has this id`);
    }
    return token;
  }
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    description: row.description,
    createdAt: row.created_at,
    createdBy: row.created_by,
    expiresAt: row.expires_at,
    usesAllowed: row.uses_allowed,
    usesCount: row.uses_count,
    revokedAt: row.revoked_at,
  };
}
