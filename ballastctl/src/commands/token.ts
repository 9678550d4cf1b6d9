/**
 * `ballastctl token create|list|revoke`: join tokens that let a new host enrol. `create` prints
 * the token and the complete join command to run on the host.
 */
import type { Command } from 'commander';
import {
  type TokenCreateRequest,
  type TokenCreateResponse,
  TokenCreateResponseSchema,
  type TokenInfo,
  TokenInfoSchema,
  TokenListResponseSchema,
} from '../../../shared/src/api.js';
import type { CliContext } from '../context.js';
import { type Cell, formatFields, formatTable, formatTime, relative } from '../format.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { intInRange, parseDescription, parseTokenId, parseTtl } from '../parse.js';
import { withExamples } from './common.js';

const DEFAULT_TTL_SECONDS = 3600;

function usesText(info: TokenInfo): string {
  return `${info.usesCount}/${info.usesAllowed === null ? 'unlimited' : info.usesAllowed}`;
}

/** The text shown after `token create`: the secret, how to verify the CA, and what to run on the host. */
export function tokenCreatedText(res: TokenCreateResponse, now: number): string {
  const fields = formatFields([
    ['Token', res.token],
    ['CA hash', res.caHash],
    ['Server', res.server],
    ['Expires', `${formatTime(res.info.expiresAt)} (${relative(res.info.expiresAt, now)})`],
    ['Uses', res.info.usesAllowed === null ? 'unlimited until expiry' : String(res.info.usesAllowed)],
    ['Description', res.info.description === '' ? '<none>' : res.info.description],
  ]);
  const install =
    res.installCommand === undefined
      ? ''
      : `\nOr, on a fresh host without the agent installed (downloads, verifies and installs the package, then joins):\n\n  ${res.installCommand}\n`;
  return `Join token ${res.info.id} created.\n\n${fields}\nTo join a host that has the ballast-agent package, run this on it as root:\n\n  ${res.joinCommand}\n${install}`;
}

/** Renders join tokens as a table. */
export function tokenTable(items: readonly TokenInfo[], now: number, color = false): string {
  const rows = items.map((t): Cell[] => [
    t.id,
    t.status === 'active' ? { text: t.status, tone: 'green' } : { text: t.status, tone: 'dim' },
    usesText(t),
    relative(t.expiresAt, now),
    t.description === '' ? '-' : t.description,
  ]);
  return formatTable(['ID', 'STATUS', 'USES', 'EXPIRES', 'DESCRIPTION'], rows, color);
}

interface CreateOptions {
  ttl?: number;
  uses?: number;
  description?: string;
  output: Extract<OutputFormat, 'text' | 'json'>;
}

/** Registers the `token` group. */
export function registerToken(program: Command, ctx: CliContext): void {
  const group = program.command('token').description('create, list and revoke join tokens for enrolling hosts');
  withExamples(group, ['ballastctl token create --ttl 30m', 'ballastctl token list', 'ballastctl token revoke tok_123']);

  const create = group
    .command('create')
    .description('create a join token and print the command to run on the new host')
    .option('--ttl <duration>', 'lifetime: 90s, 30m, 1h, 7d ... (1m to 30d, default 1h)', parseTtl)
    .option('--uses <n>', 'how many hosts may join with it (default: unlimited until expiry)', intInRange(1, 100_000))
    .option('--description <text>', 'free text shown in "token list"', parseDescription)
    .addOption(outputOption(['text', 'json']))
    .action(async (opts: CreateOptions, command: Command) => {
      const body: TokenCreateRequest = { ttlSeconds: opts.ttl ?? DEFAULT_TTL_SECONDS };
      if (opts.uses !== undefined) body.uses = opts.uses;
      if (opts.description !== undefined) body.description = opts.description;
      const res = await ctx.client(command).post('/v1/tokens', body, TokenCreateResponseSchema);
      ctx.out(opts.output === 'json' ? formatDocument('json', res) : tokenCreatedText(res, ctx.now()));
    });
  withExamples(create, [
    'ballastctl token create',
    'ballastctl token create --ttl 30m --uses 3 --description "rack 4"',
    'ballastctl token create -o json | jq -r .joinCommand',
  ]);

  const list = group
    .command('list')
    .description('list join tokens with their status, uses and expiry')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/tokens', TokenListResponseSchema);
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else if (res.items.length === 0) ctx.note('No join tokens.');
      else ctx.out(tokenTable(res.items, ctx.now(), ctx.color));
    });
  withExamples(list, ['ballastctl token list', 'ballastctl token list -o json']);

  const revoke = group
    .command('revoke')
    .description('revoke a join token so no more hosts can join with it')
    .argument('<id>', 'token id (see "token list")', parseTokenId)
    .action(async (id: string, _opts: unknown, command: Command) => {
      const info = await ctx.client(command).delete(`/v1/tokens/${encodeURIComponent(id)}`, TokenInfoSchema);
      ctx.out(`token ${info.id} revoked (used ${usesText(info)})\n`);
    });
  withExamples(revoke, ['ballastctl token revoke tok_123']);
}
