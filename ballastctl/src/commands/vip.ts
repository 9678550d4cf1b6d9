/**
 * `ballastctl vip status|move|exclude|include`: the control-plane VIP. `-o json` prints the API
 * documents of shared/src/vip-api.ts unchanged (the lab's chaos suite relies on them). The
 * controller only observes and asks: failover itself never needs it.
 */
import type { Command } from 'commander';
import {
  type VipCandidate,
  type VipHostChangeResponse,
  VipHostChangeResponseSchema,
  type VipMoveResponse,
  VipMoveResponseSchema,
  VipStatusResponseSchema,
  type VipView,
} from '../../../shared/src/vip-api.js';
import type { CliContext } from '../context.js';
import { ageOf, type Cell, formatTable, NONE, type Tone } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';

type Output = 'text' | 'json' | 'yaml';

/** Column headers of `vip status`. */
export const VIP_COLUMNS = ['HOST', 'STATE', 'HEALTHY', 'CANDIDATE', 'RENEW-P99'] as const;

const STATE_TONE: Record<VipCandidate['state'], Tone> = { holder: 'green', candidate: 'green', excluded: 'dim', unhealthy: 'red', idle: 'yellow', unknown: 'red' };

/** "VIP 198.18.0.250 held by host2, term 1234, hold 1.6 s left". */
export function vipHeader(v: VipView): string {
  const name = `VIP ${v.address}${v.name === '' ? '' : ` (${v.name})`}`;
  if (v.holder === null) return `${name} has no holder`;
  const lease = v.leaseLeftMs === null ? '' : `, hold ${(v.leaseLeftMs / 1000).toFixed(1)} s left`;
  const seen = v.holderSource === 'observed' ? ' (as etcd names it; the holder itself did not answer)' : '';
  return `${name} held by ${v.holder}, term ${v.term ?? '?'}${lease}${seen}`;
}

/**
 * The candidates table of one VIP. A host that did not answer is shown by what is known now —
 * unreachable — and its last report only as stale, with its age (`now`: when the status was
 * taken): a powered-off former holder was listed as `holder (unreachable)`, healthy `yes`.
 */
export function vipTable(v: VipView, color = false, now = Date.now()): string {
  const rows = v.candidates.map((c): Cell[] => {
    const candidate = c.excluded ? 'excluded' : c.candidate ? 'yes' : 'no';
    const rtt = c.renewRttP99Ms === null ? NONE : `${c.renewRttP99Ms} ms`;
    if (!c.reachable) {
      const last = c.observedAt === null ? 'no report yet' : `stale, ${ageOf(c.observedAt, now)} old: was ${c.state}`;
      return [c.host, { text: `unreachable (${last})`, tone: 'red' }, { text: c.observedAt === null ? NONE : '? (stale)', tone: 'dim' }, candidate, rtt];
    }
    return [c.host, { text: c.state, tone: STATE_TONE[c.state] }, c.healthy ? 'yes' : { text: 'no', tone: 'red' }, candidate, rtt];
  });
  return formatTable([...VIP_COLUMNS], rows, color);
}

/** "moved from X to Y in N ms, term T". */
export function moveText(r: VipMoveResponse): string {
  if (!r.moved) return `${r.to} already holds VIP ${r.vip}, term ${r.term ?? '?'}; nothing to do\n`;
  return `moved from ${r.from} to ${r.to} in ${r.tookMs} ms, term ${r.term ?? '?'}\n`;
}

/** The line printed after exclude/include. */
export function changeText(r: VipHostChangeResponse): string {
  if (r.action === 'include') {
    const note = r.candidate.candidate ? '' : ' (its vip.yaml says candidate: false, so it still does not campaign)';
    return `${r.host} included in the VIP election${r.vip === null ? ' (no VIP configured on it yet)' : ''}${note}\n`;
  }
  const how = !r.wasHolder ? '' : r.handedOverTo === null ? '; it held the VIP and resigned (no fit candidate to hand over to)' : `; the VIP was handed over to ${r.handedOverTo}`;
  return `${r.host} excluded from the VIP election${how}\n`;
}

/** Registers `vip` and its subcommands. */
export function registerVip(program: Command, ctx: CliContext): void {
  const vip = program.command('vip').description('show and move the control-plane VIP; exclude hosts from its election for maintenance');

  const status = vip
    .command('status')
    .description('holder, term, hold time left and every candidate with its health (asks the agents now)')
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (opts: { output: Output }, command: Command) => {
      const res = await ctx.client(command).get('/v1/vip', VipStatusResponseSchema);
      if (opts.output !== 'text') {
        ctx.out(formatDocument(opts.output, res));
        return;
      }
      if (res.items.length === 0) {
        ctx.note('No connected host reports a VIP (apply the vip role to the control-plane hosts, or check that they are connected: ballastctl hosts).');
        return;
      }
      const at = Date.parse(res.observedAt);
      ctx.out(res.items.map((v) => `${vipHeader(v)}\n\n${vipTable(v, ctx.color, at)}`).join('\n'));
    });
  withExamples(status, ['ballastctl vip status', 'ballastctl vip status -o json | jq -r ".items[0].holder"']);

  const move = vip
    .command('move')
    .description('hand the VIP over to a host gracefully; refuses a target that is not connected, unhealthy, not a candidate or excluded')
    .requiredOption('--to <host>', 'the host that should hold the VIP', parseName)
    .addOption(outputOption(['text', 'json', 'yaml']))
    .action(async (opts: { to: string; output: Output }, command: Command) => {
      const res = await ctx.client(command).post('/v1/vip/move', { to: opts.to }, VipMoveResponseSchema);
      ctx.out(opts.output === 'text' ? moveText(res) : formatDocument(opts.output, res));
    });
  withExamples(move, ['ballastctl vip move --to cp-2', 'ballastctl vip move --to cp-2 -o json | jq .tookMs']);

  for (const action of ['exclude', 'include'] as const) {
    const cmd = vip
      .command(action)
      .description(
        action === 'exclude'
          ? 'take a host out of the VIP election (maintenance; survives agent restarts); a holder hands over to the best candidate first'
          : 'let an excluded host campaign for the VIP again',
      )
      .argument('<host>', 'host name', parseName)
      .addOption(outputOption(['text', 'json', 'yaml']))
      .action(async (host: string, opts: { output: Output }, command: Command) => {
        const res = await ctx.client(command).post(`/v1/vip/${action}`, { host }, VipHostChangeResponseSchema);
        ctx.out(opts.output === 'text' ? changeText(res) : formatDocument(opts.output, res));
      });
    withExamples(cmd, [`ballastctl vip ${action} cp-1`]);
  }
}
