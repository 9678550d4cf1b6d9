import { describe, expect, it } from 'vitest';
import { BallastError, ERROR_CODES, type ErrorCode, EXIT_FAILURE, EXIT_USAGE, exitCodeOf, statusOf } from './errors.js';

// The controller's own faults: the only codes allowed to answer 500. A new entry here is a decision
// that a client can do nothing about the failure; anything a caller or the fleet can cause has a 4xx/5xx of its own.
const INTERNAL_FAULTS: readonly ErrorCode[] = [
  'BALLAST_ERR_INTERNAL',
  'BALLAST_ERR_STORE',
  'BALLAST_ERR_CONFIG',
  'BALLAST_ERR_IO',
  'BALLAST_ERR_SERVICE_START',
  'BALLAST_ERR_SERVICE_STOP',
];

const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('the error table', () => {
  it('gives every code a message, an HTTP error status and a ballastctl exit code', () => {
    for (const code of codes) {
      const spec = ERROR_CODES[code];
      expect(code, code).toMatch(/^BALLAST_ERR_[A-Z0-9_]+$/);
      expect(spec.message.length, code).toBeGreaterThan(0);
      expect(Number.isInteger(spec.status) && spec.status >= 400 && spec.status <= 599, `${code}: ${spec.status}`).toBe(true);
      expect([EXIT_FAILURE, EXIT_USAGE], code).toContain(spec.exit);
    }
  });

  it('maps nothing to 500 unless it is an internal fault', () => {
    expect(codes.filter((c) => statusOf(c) === 500).sort()).toEqual([...INTERNAL_FAULTS].sort());
  });

  it('answers the codes that used to fall through to 500 with their own status', () => {
    expect(statusOf('BALLAST_ERR_GATE')).toBe(504);
    expect(statusOf('BALLAST_ERR_ETCD_UNAVAILABLE')).toBe(503);
    expect(statusOf('BALLAST_ERR_HOST_BUSY')).toBe(409);
    expect(statusOf('BALLAST_ERR_HOST_NOT_CONNECTED')).toBe(409);
    expect(new BallastError('BALLAST_ERR_VIP_MOVE_TIMEOUT', 'x').statusCode).toBe(504);
  });

  it('gives ballastctl exit 2 for configuration problems, 1 for the rest and for unknown codes', () => {
    expect(exitCodeOf('BALLAST_ERR_CONFIG')).toBe(EXIT_USAGE);
    expect(exitCodeOf('BALLAST_ERR_VALIDATION')).toBe(EXIT_FAILURE);
    expect(exitCodeOf('BALLAST_ERR_FROM_A_NEWER_CONTROLLER')).toBe(EXIT_FAILURE);
    expect(exitCodeOf(undefined)).toBe(EXIT_FAILURE);
  });
});
