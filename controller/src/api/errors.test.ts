import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BallastError, ERROR_CODES, type ErrorCode } from '../../../shared/src/errors.js';
import { type TempStore, tempStore } from '../store/testing.js';
import { testApp } from './testing.js';

describe('the API error handler (app.inject)', () => {
  let temp: TempStore;
  let app: FastifyInstance;

  beforeEach(async () => {
    temp = await tempStore('ballast-errors-');
    app = await testApp({ store: temp.store });
    void app.register(async (scope) => {
      scope.get<{ Params: { code: string } }>('/throw/:code', { config: { auth: 'none' } }, async (request) => {
        throw new BallastError(request.params.code as ErrorCode, `failed to test: ${request.params.code}`);
      });
      scope.get('/bug', { config: { auth: 'none' } }, async () => {
        throw new TypeError('x is undefined');
      });
    });
  });

  afterEach(async () => {
    await app.close();
    await temp.cleanup();
  });

  it('answers every coded error with its status from the table and its coded body', async () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      const r = await app.inject({ method: 'GET', url: `/throw/${code}` });
      expect(r.statusCode, code).toBe(spec.status);
      expect(r.json(), code).toEqual({ code, message: `failed to test: ${code}` });
    }
  });

  it('answers an uncoded error with a 500 that shows no internals', async () => {
    const r = await app.inject({ method: 'GET', url: '/bug' });
    expect(r.statusCode).toBe(500);
    expect(r.json()).toEqual({ code: 'BALLAST_ERR_INTERNAL', message: 'internal error; see the controller log' });
  });
});
