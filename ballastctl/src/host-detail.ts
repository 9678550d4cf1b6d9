/**
 * Text rendering of `ballastctl host NAME` (kubectl describe style): summary, facts, health with
 * each check marked ok/FAIL, and the host's recent events.
 */
import type { BallastEvent, HostDetailResponse } from '../../shared/src/api.js';
import type { Facts, Health } from '../../shared/src/protocol/facts.js';
import {
  ageOf,
  type Cell,
  formatAge,
  formatBytes,
  formatFields,
  formatTable,
  formatTime,
  NONE,
  orNone,
} from './format.js';

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : `${pad}${line}`))
    .join('\n');
}

function when(iso: string | null, now: number): string {
  return iso === null ? NONE : `${formatTime(iso)} (${ageOf(iso, now)} ago)`;
}

function factsSection(facts: Facts | null): string {
  if (facts === null) return 'Facts:  <none> (the agent has not reported yet)\n';
  const { os, cpu } = facts;
  const codename = os.codename === '' ? '' : ` (${os.codename})`;
  let text = 'Facts:\n';
  text += formatFields(
    [
      ['Hostname', facts.hostname],
      ['OS', `${os.distro} ${os.release}${codename}, ${os.platform}/${os.arch}`],
      ['Kernel', os.kernel],
      ['CPU', `${cpu.manufacturer} ${cpu.brand}, ${cpu.cores} cores (${cpu.physicalCores} physical) @ ${cpu.speedGHz} GHz`],
      ['Memory', formatBytes(facts.memory.totalBytes)],
      ['Product UUID', orNone(facts.productUuid)],
      ['Boot ID', orNone(facts.bootId)],
    ],
    2,
  );
  if (facts.disks.length > 0) {
    const rows = facts.disks.map((d) => [d.device, d.type, formatBytes(d.sizeBytes), orNone(d.model)]);
    text += `  Disks:\n${indent(formatTable(['DEVICE', 'TYPE', 'SIZE', 'MODEL'], rows), 4)}`;
  }
  if (facts.nics.length > 0) {
    const rows = facts.nics.map((n) => [
      n.name,
      orNone(n.mac),
      orNone([...n.ipv4, ...n.ipv6].join(',')),
      n.speedMbps === null ? NONE : `${n.speedMbps}Mb/s`,
      n.virtual ? 'yes' : 'no',
    ]);
    text += `  NICs:\n${indent(formatTable(['NAME', 'MAC', 'ADDRESSES', 'SPEED', 'VIRTUAL'], rows), 4)}`;
  }
  return text;
}

function healthSection(health: Health | null, now: number, color: boolean): string {
  if (health === null) return 'Health:  <none> (no health report yet)\n';
  const offset = health.clockOffsetMs === null ? NONE : `${health.clockOffsetMs >= 0 ? '+' : ''}${Math.round(health.clockOffsetMs)}ms`;
  let text = `Health (reported ${formatAge(now - health.ts)} ago):\n`;
  text += formatFields(
    [
      ['Load', health.load.map((l) => l.toFixed(2)).join(' ')],
      ['Memory', `${formatBytes(health.memory.availableBytes)} available of ${formatBytes(health.memory.totalBytes)}`],
      ['Clock offset', offset],
    ],
    2,
  );
  if (health.disks.length > 0) {
    const rows = health.disks.map((d) => [
      d.mount,
      formatBytes(d.sizeBytes),
      formatBytes(d.usedBytes),
      d.sizeBytes > 0 ? `${Math.round((100 * d.usedBytes) / d.sizeBytes)}%` : NONE,
    ]);
    text += `  Filesystems:\n${indent(formatTable(['MOUNT', 'SIZE', 'USED', 'USE%'], rows), 4)}`;
  }
  if (health.checks.length === 0) return `${text}  Checks:  <none>\n`;
  const rows = health.checks.map((c): Cell[] => [c.ok ? { text: 'ok', tone: 'green' } : { text: 'FAIL', tone: 'red' }, c.name, c.message]);
  return `${text}  Checks:\n${indent(formatTable(['STATUS', 'CHECK', 'MESSAGE'], rows, color), 4)}`;
}

/** Renders recent events as a table (oldest first), or a note when there are none. */
export function eventsTable(events: readonly BallastEvent[], withHost: boolean): string {
  const sorted = [...events].sort((a, b) => a.id - b.id);
  const rows = sorted.map((e) =>
    withHost ? [formatTime(e.ts), e.host ?? '-', e.kind, e.message] : [formatTime(e.ts), e.kind, e.message],
  );
  return formatTable(withHost ? ['TIME', 'HOST', 'KIND', 'MESSAGE'] : ['TIME', 'KIND', 'MESSAGE'], rows);
}

/** The full text view of one host. */
export function hostDetailText(detail: HostDetailResponse, now: number, color = false): string {
  const h = detail.host;
  let text = formatFields([
    ['Name', h.name],
    ['ID', h.id],
    ['State', `${h.state} since ${when(h.stateSince, now)}${h.conflict === true ? `, CONFLICT: two agents use this host's certificate (ballastctl host remove ${h.name}, then re-join)` : ''}`],
    ['Connected', h.connected ? 'yes' : 'no'],
    ['Address', orNone(h.address)],
    ['Agent version', orNone(h.agentVersion)],
    ['Enrolled', when(h.enrolledAt, now)],
    ['Last heartbeat', when(h.lastHeartbeatAt, now)],
    ['Failing checks', h.failingChecks.length === 0 ? NONE : h.failingChecks.join(', ')],
    ['Labels', Object.keys(h.labels ?? {}).length === 0 ? NONE : Object.entries(h.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ')],
  ]);
  text += `\n${factsSection(detail.facts)}\n${healthSection(detail.health, now, color)}\n`;
  text += detail.events.length === 0 ? 'Events:  <none>\n' : `Events:\n${indent(eventsTable(detail.events, false), 2)}`;
  return text;
}
