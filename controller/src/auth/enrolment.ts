import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { JoinRequest, JoinResponse } from '../../../shared/src/api.js';
import { BallastError, isBallastError } from '../../../shared/src/errors.js';
import { hashJoinSecret, parseJoinToken } from './join-token.js';
import type { SourceRateLimiter } from './rate-limit.js';
import type { HostTracker } from '../hub/host-tracker.js';
import type { ControllerMetrics } from '../metrics.js';
import { type KeyPair, signCsr } from '../pki/ca.js';
import type { Store } from '../store/store.js';

/** Everything enrolment touches. */
export interface EnrolmentDeps {
  store: Store;
  tracker: HostTracker;
  metrics: ControllerMetrics;
  ca: KeyPair;
  log: Logger;
  now: () => number;
  /** Lifetime of issued host certificates. */
  certValidityDays: number;
  /** Per-source bound on join attempts, checked before anything else; null = unlimited. */
  joinLimiter: SourceRateLimiter | null;
}

/**
 * kubeadm-style enrolment: the agent has already pinned our CA by hash; here it proves a join token
 * and we sign the CSR of a key it generated (the key never leaves the host). The token use and the
 * host row are written in one transaction, so a refused or failed join burns no token use and a
 * crash cannot leave a host without the use counted.
 *
 * Order matters for an unauthenticated caller (threat model): the per-source rate limit first, then
 * the token (constant-time secret check), and only then the name check and the CSR parsing and
 * signing (~8 ms of CPU) — so without a valid token nothing costly runs and enrolled names cannot
 * be enumerated. A rate-limited attempt is counted but writes no event (no log amplification).
 */
export async function enrol(deps: EnrolmentDeps, req: JoinRequest, source: string): Promise<JoinResponse & { tokenId: string }> {
  const log = deps.log.child({ op: 'join', host: req.name });
  try {
    deps.joinLimiter?.take(source, 'join');
  } catch (err) {
    deps.metrics.enrolments.inc({ outcome: 'rate_limited' });
    log.debug({ source }, 'join rate-limited');
    throw err;
  }
  let tokenId = '?';
  try {
    const token = parseJoinToken(req.token);
    tokenId = token.id;
    deps.store.tokens.verify(token.id, hashJoinSecret(token.secret), deps.now());
    const existing = deps.store.hosts.getByName(req.name);
    if (existing !== null) {
      throw new BallastError(
        'BALLAST_ERR_HOST_EXISTS',
        `failed to enrol host "${req.name}": a host with this name is enrolled; run \`ballastctl host remove ${req.name}\` first`,
      );
    }
    // Sign before the transaction: signing is async and a wasted signature costs nothing.
    const signed = await signCsr({ ca: deps.ca, csrPem: req.csr, commonName: req.name, validityDays: deps.certValidityDays });
    const hostId = randomUUID();
    const now = deps.now();
    deps.store.db.transaction(() => {
      deps.store.tokens.consume(token.id, hashJoinSecret(token.secret), now);
      deps.store.hosts.create({
        id: hostId,
        name: req.name,
        certSerial: signed.serial,
        certNotAfter: signed.notAfter.getTime(),
        enrolledAt: now,
      });
    })();
    deps.tracker.add({ id: hostId, name: req.name, enrolledAt: now });
    deps.store.events.append({
      host: req.name,
      kind: 'enrolled',
      message: `host enrolled with join token ${token.id}`,
      data: { tokenId: token.id, certSerial: signed.serial },
    });
    deps.metrics.enrolments.inc({ outcome: 'ok' });
    log.info({ tokenId: token.id, serial: signed.serial }, 'host enrolled');
    return { hostId, name: req.name, certificate: signed.certPem, caCert: deps.ca.certPem, tokenId };
  } catch (err) {
    const code = isBallastError(err) ? err.code : 'BALLAST_ERR_INTERNAL';
    deps.metrics.enrolments.inc({ outcome: code.replace(/^BALLAST_ERR_/, '').toLowerCase() });
    if (code.startsWith('BALLAST_ERR_TOKEN_')) deps.metrics.authRejected.inc({ reason: 'join_token' });
    deps.store.events.append({
      host: null,
      kind: 'refused',
      message: `join of "${req.name}" refused: ${isBallastError(err) ? err.message : 'internal error'}`,
      data: { code, tokenId },
    });
    log.warn({ code, tokenId, err: isBallastError(err) ? err.message : err }, 'join refused');
    throw err;
  }
}
