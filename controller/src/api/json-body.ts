import type { FastifyInstance } from 'fastify';
import { BallastError } from '../../../shared/src/errors.js';
import { depthProblem } from '../../../shared/src/json-depth.js';
import type { ControllerMetrics } from '../metrics.js';

/**
 * Replaces fastify's `application/json` parser with one that bounds nesting on the raw text first
 * (issue 16 point 8): a body nested 100k deep used to parse and then overflow the stack in the
 * schema check, answering 500. Now it is a 400 BALLAST_ERR_VALIDATION naming the limit, counted in
 * `ballast_json_too_deep_total{channel="http"}`. The parse itself stays fastify's default, which
 * keeps its prototype-poisoning protection (`__proto__` and `constructor` keys refused).
 */
export function registerJsonBodyParser(app: FastifyInstance, metrics: ControllerMetrics): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    const tooDeep = depthProblem(text);
    if (tooDeep !== null) {
      metrics.jsonTooDeep.inc({ channel: 'http' });
      done(new BallastError('BALLAST_ERR_VALIDATION', `failed to parse request body: ${tooDeep}`, { path: 'body' }), undefined);
      return;
    }
    parse(request, text, done);
  });
}
