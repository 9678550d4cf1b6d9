import { describe, expect, it } from 'vitest';
import type { HostSummary } from '../../shared/src/api.js';
import { hostTable } from './commands/hosts.js';
import { ageOf, formatAge, formatBytes, formatFields, formatTable, formatTime, relative, sanitize } from './format.js';
import { formatDocument, formatStreamDocument } from './output.js';

const NOW = Date.parse('2024-05-01T12:00:00Z');

function host(over: Partial<HostSummary>): HostSummary {
  return {
    name: 'node-1',
    id: 'h_1',
    state: 'healthy',
    connected: true,
    stateSince: '2024-05-01T11:55:00Z',
    lastHeartbeatAt: '2024-05-01T11:59:48Z',
    enrolledAt: '2024-04-29T12:00:00Z',
    address: '10.0.0.11',
    agentVersion: '0.1.0',
    os: 'Ubuntu 22.04',
    kernel: '5.15.0-105-generic',
    cpus: 16,
    memoryBytes: 64 * 1024 ** 3,
    failingChecks: [],
    ...over,
  };
}

describe('formatAge', () => {
  it('uses one kubectl-style unit', () => {
    expect(formatAge(0)).toBe('0s');
    expect(formatAge(12_400)).toBe('12s');
    expect(formatAge(59_999)).toBe('59s');
    expect(formatAge(60_000)).toBe('1m');
    expect(formatAge(5 * 60_000 + 59_000)).toBe('5m');
    expect(formatAge(3 * 3600_000 + 1)).toBe('3h');
    expect(formatAge(2 * 86400_000 + 5 * 3600_000)).toBe('2d');
  });

  it('treats negative durations (clock skew) as 0s', () => {
    expect(formatAge(-5000)).toBe('0s');
  });

  it('ages timestamps and handles null', () => {
    expect(ageOf('2024-05-01T11:59:48Z', NOW)).toBe('12s');
    expect(ageOf(null, NOW)).toBe('<none>');
    expect(ageOf('garbage', NOW)).toBe('<none>');
    expect(relative('2024-05-01T13:00:00Z', NOW)).toBe('in 1h');
    expect(relative('2024-05-01T11:00:00Z', NOW)).toBe('1h ago');
  });
});

describe('formatBytes / formatTime', () => {
  it('uses IEC units', () => {
    expect(formatBytes(null)).toBe('<none>');
    expect(formatBytes(512)).toBe('512B');
    expect(formatBytes(1536)).toBe('1.5Ki');
    expect(formatBytes(64 * 1024 ** 3)).toBe('64Gi');
    expect(formatBytes(15.5 * 1024 ** 3)).toBe('15.5Gi');
  });

  it('prints UTC with second precision', () => {
    expect(formatTime('2024-05-01T12:00:03.456Z')).toBe('2024-05-01T12:00:03Z');
    expect(formatTime('2024-05-01T14:00:03+02:00')).toBe('2024-05-01T12:00:03Z');
  });
});

describe('formatTable', () => {
  it('aligns columns with three spaces and leaves no trailing whitespace', () => {
    const text = formatTable(
      ['NAME', 'STATE', 'NOTE'],
      [
        ['a', 'healthy', 'x'],
        ['longer-name', 'up', ''],
      ],
    );
    expect(text).toBe('NAME          STATE     NOTE\na             healthy   x\nlonger-name   up        \n'.replace(/ +\n/g, '\n'));
    for (const line of text.split('\n')) expect(line).not.toMatch(/\s$/);
  });

  it('colours only when asked, without breaking alignment', () => {
    const rows = [[{ text: 'ok', tone: 'green' as const }, 'x']];
    expect(formatTable(['S', 'V'], rows)).toBe('S    V\nok   x\n');
    expect(formatTable(['S', 'V'], rows, true)).toBe('S    V\n\x1b[32mok\x1b[0m   x\n');
  });

  it('neutralises control characters from server data', () => {
    expect(sanitize('line1\nline2\x1b[31m')).toBe('line1 line2 [31m');
    expect(formatTable(['A', 'B'], [['x\ny', 'z']])).toBe('A     B\nx y   z\n');
  });

  it('aligns key/value fields', () => {
    expect(formatFields([['Name', 'a'], ['Last heartbeat', 'b']], 2)).toBe('  Name:            a\n  Last heartbeat:  b\n');
  });
});

describe('hostTable', () => {
  it('prints the standard columns sorted by name', () => {
    const text = hostTable(
      [host({ name: 'node-2', state: 'unreachable', lastHeartbeatAt: null, address: null, agentVersion: null }), host({})],
      NOW,
      false,
    );
    expect(text).toBe(
      [
        'NAME     STATE         AGE   LAST-HEARTBEAT   ADDRESS     VERSION',
        'node-1   healthy       5m    12s              10.0.0.11   0.1.0',
        'node-2   unreachable   5m    <none>           <none>      <none>',
        '',
      ].join('\n'),
    );
  });

  it('adds OS, kernel, CPUs, memory and failing checks in wide mode', () => {
    const text = hostTable([host({ state: 'degraded', failingChecks: ['disk-space', 'ntp'] })], NOW, true);
    expect(text.split('\n')[0]).toBe(
      'NAME     STATE      AGE   LAST-HEARTBEAT   ADDRESS     VERSION   OS             KERNEL               CPUS   MEMORY   FAILING-CHECKS',
    );
    expect(text.split('\n')[1]).toBe(
      'node-1   degraded   5m    12s              10.0.0.11   0.1.0     Ubuntu 22.04   5.15.0-105-generic   16     64Gi     disk-space,ntp',
    );
  });
});

describe('structured output', () => {
  const doc = { items: [host({})] };

  it('prints JSON as the exact API object, pretty and newline-terminated', () => {
    const text = formatDocument('json', doc);
    expect(text).toBe(`${JSON.stringify(doc, null, 2)}\n`);
    expect(JSON.parse(text)).toEqual(doc);
  });

  it('streams NDJSON and ---separated YAML', () => {
    expect(formatStreamDocument('json', doc)).toBe(`${JSON.stringify(doc)}\n`);
    expect(formatStreamDocument('json', doc).trimEnd()).not.toContain('\n');
    expect(formatStreamDocument('yaml', { a: 1 })).toBe('---\na: 1\n');
    expect(formatDocument('yaml', { items: [{ name: 'n', memoryBytes: null }] })).toBe('items:\n  - name: n\n    memoryBytes: null\n');
  });
});
