/**
 * What route handlers read from a request besides its body: who is acting (for run, operation and
 * audit records) and a signal for the client going away (for long-polls).
 */
import type { FastifyRequest } from 'fastify';

/**
 * The name recorded as the actor of what a request starts or changes: the authenticated operator.
 * 'unknown' only on a route that authenticates no operator (the auth declaration makes that rare).
 */
export function actorOf(request: FastifyRequest): string {
  return request.operator?.name ?? 'unknown';
}

/**
 * A signal aborted when the client goes away, so a parked long-poll is released at once. Call
 * `release` when the wait ends: the listener would otherwise outlive the request's handler.
 */
export function closeSignal(request: FastifyRequest): { signal: AbortSignal; release: () => void } {
  const controller = new AbortController();
  const onClose = (): void => controller.abort();
  request.raw.on('close', onClose);
  return { signal: controller.signal, release: () => request.raw.off('close', onClose) };
}
