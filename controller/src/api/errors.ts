import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { BallastError, type ErrorBody, type ErrorCode } from '../../../shared/src/errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  BALLAST_ERR_UNAUTHENTICATED: 401,
  BALLAST_ERR_TOKEN_INVALID: 401,
  BALLAST_ERR_TOKEN_EXPIRED: 401,
  BALLAST_ERR_TOKEN_EXHAUSTED: 401,
  BALLAST_ERR_TOKEN_REVOKED: 401,
  BALLAST_ERR_FORBIDDEN: 403,
  BALLAST_ERR_CERT_REVOKED: 403,
  BALLAST_ERR_NOT_FOUND: 404,
  BALLAST_ERR_HOST_EXISTS: 409,
  BALLAST_ERR_VALIDATION: 400,
  BALLAST_ERR_CSR_INVALID: 400,
  BALLAST_ERR_FRAME_TOO_LARGE: 413,
  BALLAST_ERR_CHECKSUM_MISMATCH: 422,
  BALLAST_ERR_ARTIFACT_CONFLICT: 409,
  BALLAST_ERR_RUN_BUSY: 409,
  BALLAST_ERR_QUORUM_GUARD: 409,
  BALLAST_ERR_CONNECT: 502,
  BALLAST_ERR_DEADLINE_EXCEEDED: 504,
  BALLAST_ERR_PEER_GONE: 502,
  BALLAST_ERR_UNSAFE_PATH: 400,
  BALLAST_ERR_UNSAFE_VALUE: 400,
  BALLAST_ERR_ARTIFACT_UNTRUSTED: 403,
  BALLAST_ERR_ARCHIVE_TOO_LARGE: 413,
};

/** HTTP status for a coded error. */
export function statusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/**
 * One error handler for every route: coded errors keep their code, schema failures become
 * BALLAST_ERR_VALIDATION naming the field, everything else is a logged 500 without internals.
 */
export function errorHandler(log: Logger) {
  return (error: FastifyError | BallastError | Error, request: FastifyRequest, reply: FastifyReply): void => {
    if (error instanceof BallastError) {
      void reply.status(statusOf(error.code)).send(error.toBody());
      return;
    }
    const fe = error as FastifyError;
    if (fe.validation !== undefined && fe.validation.length > 0) {
      const first = fe.validation[0];
      const where = `${fe.validationContext ?? 'body'}${first?.instancePath ?? ''}`;
      const body: ErrorBody = {
        code: 'BALLAST_ERR_VALIDATION',
        message: `invalid request ${where}: ${first?.message ?? 'invalid'}`,
        path: where,
      };
      void reply.status(400).send(body);
      return;
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      void reply.status(413).send({ code: 'BALLAST_ERR_VALIDATION', message: 'request body is too large' });
      return;
    }
    if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
      void reply.status(fe.statusCode).send({ code: 'BALLAST_ERR_VALIDATION', message: fe.message });
      return;
    }
    log.error({ err: error, url: request.url }, 'request failed');
    void reply.status(500).send({ code: 'BALLAST_ERR_INTERNAL', message: 'internal error; see the controller log' });
  };
}
