import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { BallastError, type ErrorBody, statusOf } from '../../../shared/src/errors.js';

/**
 * The one error handler of the API (set on the root instance, so every route plugin inherits it):
 * coded errors get the status the table in shared/src/errors.ts gives their code, schema failures
 * become BALLAST_ERR_VALIDATION naming the field, fastify's own client errors keep their 4xx, and
 * everything else is a logged 500 without internals.
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
      void reply.status(statusOf(body.code)).send(body);
      return;
    }
    if (fe.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const body: ErrorBody = { code: 'BALLAST_ERR_TOO_LARGE', message: 'request body is too large' };
      void reply.status(statusOf(body.code)).send(body);
      return;
    }
    // fastify's own refusals (bad JSON, unsupported media type, …) are the caller's to fix: keep their status.
    if (typeof fe.statusCode === 'number' && fe.statusCode < 500) {
      void reply.status(fe.statusCode).send({ code: 'BALLAST_ERR_VALIDATION', message: fe.message });
      return;
    }
    log.error({ err: error, url: request.url }, 'request failed');
    void reply.status(statusOf('BALLAST_ERR_INTERNAL')).send({ code: 'BALLAST_ERR_INTERNAL', message: 'internal error; see the controller log' });
  };
}
