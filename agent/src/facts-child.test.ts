import os from 'node:os';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { isBallastError } from '../../shared/src/errors.js';
import { collectFacts } from './facts.js';
import { createChildFactsCollector, parseChildFacts } from './facts-child.js';
import { systemInformationPort } from './facts-si.js';
import { createExec } from './host/exec.js';

/** A logger whose lines the test can read. */
function recordingLogger(): { log: pino.Logger; lines: () => string[] } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { log, lines: () => lines };
}

/** argv of a real node child that prints `out` and exits `code` (the collector appends `facts`). */
function child(out: string, code = 0): string[] {
  return [process.execPath, '-e', `process.stdout.write(${JSON.stringify(out)}); process.exitCode = ${code};`];
}

describe('facts from the `ballast-agent facts` child', () => {
  it('returns what a child prints when it is valid facts', async () => {
    const facts = await collectFacts({ si: systemInformationPort() });
    const { log, lines } = recordingLogger();
    const got = await createChildFactsCollector({ exec: createExec(), self: child(JSON.stringify(facts)), log })();
    expect(got).toEqual(facts);
    expect(lines()).toEqual([]);
  });

  it('falls back to the facts readable without systeminformation when the child fails, and says so', async () => {
    for (const self of [child('', 3), child('not json'), child(JSON.stringify({ hostname: 42 }))]) {
      const { log, lines } = recordingLogger();
      const got = await createChildFactsCollector({ exec: createExec(), self, log })();
      expect(got.hostname).toBe(os.hostname());
      expect(got.memory.totalBytes).toBe(os.totalmem());
      expect(got.cpu.cores).toBe(0);
      expect(got.disks).toEqual([]);
      expect(lines().join('')).toMatch(/facts child failed/);
    }
  });

  it('kills a child that hangs and falls back within its timeout', async () => {
    const { log } = recordingLogger();
    const started = Date.now();
    const got = await createChildFactsCollector({ exec: createExec(), self: [process.execPath, '-e', 'setTimeout(() => {}, 60000)'], log, timeoutMs: 500 })();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(got.hostname).toBe(os.hostname());
  });

  it('rejects output that is not facts with a coded error naming the path', () => {
    expect(() => parseChildFacts('{')).toThrow(/not JSON/);
    try {
      parseChildFacts(JSON.stringify({ hostname: 42 }));
      expect.unreachable();
    } catch (err) {
      expect(isBallastError(err, 'BALLAST_ERR_VALIDATION')).toBe(true);
      expect(String(err)).toMatch(/at \//);
    }
  });
});
