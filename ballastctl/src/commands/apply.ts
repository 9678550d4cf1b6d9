/**
 * `ballastctl apply ROLE --hosts h1,h2 [--check] [--diff] [--vars FILE] [-o text|json]`: runs a
 * role on hosts now and follows it live, Ansible-style, ending with a PLAY RECAP. Exit 0 when every
 * host succeeded, 1 otherwise. Ctrl-C cancels the run on the controller (and says so), waits for
 * the hosts to stop, prints the recap and exits 130; a second Ctrl-C leaves at once.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { parse as parseYaml } from 'yaml';
import { messageOf } from '../../../shared/src/errors.js';
import {
  MAX_RUN_HOSTS,
  ROLE_NAME_PATTERN,
  type RunCreateRequest,
  RunDocumentSchema,
  type RunProgress,
} from '../../../shared/src/runs-api.js';
import { ApiClient } from '../client.js';
import type { CliContext } from '../context.js';
import { AbortedError, CtlError, EXIT_FAILURE, usageError } from '../errors.js';
import { formatDocument, type OutputFormat, outputOption } from '../output.js';
import { parseName } from '../parse.js';
import { withExamples } from './common.js';
import { followRun, ProgressPrinter, recapText, runHeader, statusLine } from './run-view.js';

interface ApplyOptions {
  hosts: string[];
  check?: boolean;
  diff?: boolean;
  vars?: string;
  output: Extract<OutputFormat, 'text' | 'json'>;
}

/** Parses a role name argument. */
export function parseRole(text: string): string {
  if (!ROLE_NAME_PATTERN.test(text)) throw new InvalidArgumentError('role names are lowercase words joined by "-", e.g. os-prep');
  return text;
}

/** Parses `h1,h2,…` into distinct host names (order kept). */
export function parseHostList(text: string): string[] {
  const names = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (names.length === 0) throw new InvalidArgumentError('expected one or more host names separated by commas');
  for (const n of names) parseName(n);
  const distinct = [...new Set(names)];
  if (distinct.length > MAX_RUN_HOSTS) throw new InvalidArgumentError(`at most ${MAX_RUN_HOSTS} hosts per run`);
  return distinct;
}

/** Reads a YAML (or JSON) vars file: a mapping at the top. Usage error (exit 2) otherwise. */
export function loadVarsFile(path: string, cwd: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(resolve(cwd, path), 'utf8');
  } catch (err) {
    throw usageError(`cannot read vars file ${path}: ${messageOf(err)}`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (err) {
    throw usageError(`vars file ${path} is not valid YAML: ${messageOf(err)}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw usageError(`vars file ${path} must hold a mapping of variable names to values`);
  return value as Record<string, unknown>;
}

/** Registers `apply`. */
export function registerApply(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('apply')
    .description('run a role (os-prep, containerd, etcd, kube-node) on hosts now and show an Ansible-style recap')
    .argument('<role>', 'role to apply', parseRole)
    .requiredOption('--hosts <names>', 'comma-separated host names', parseHostList)
    .option('--check', 'report what would change and change nothing')
    .option('--diff', 'show the diff of every change')
    .option('--vars <file>', 'YAML file with role variables')
    .addOption(outputOption(['text', 'json']))
    .action((role: string, opts: ApplyOptions, command: Command) => apply(ctx, command, role, opts));
  withExamples(cmd, [
    'ballastctl apply os-prep --hosts node-1,node-2 --check',
    'ballastctl apply containerd --hosts node-1 --diff',
    'ballastctl apply etcd --hosts cp-1 --vars etcd.yaml',
    'ballastctl apply os-prep --hosts node-1 -o json | jq .recap',
  ]);
}

async function apply(ctx: CliContext, command: Command, role: string, opts: ApplyOptions): Promise<void> {
  const vars = opts.vars === undefined ? {} : loadVarsFile(opts.vars, ctx.io.cwd ?? process.cwd());
  const text = opts.output === 'text';
  const client = ctx.client(command);
  const body: RunCreateRequest = { role, hosts: opts.hosts, check: opts.check === true, diff: opts.diff === true, vars };
  const started = await client.post('/v1/runs', body, RunDocumentSchema);
  const printer = new ProgressPrinter((s) => ctx.out(s), {
    hostWidth: Math.max(...started.hosts.map((h) => h.name.length)),
    diff: body.diff,
    color: ctx.color,
  });
  const show = (p: RunProgress): void => {
    if (text) printer.print(p);
  };
  if (text) ctx.out(runHeader(started, started.hosts.map((h) => h.name)));

  let final: RunProgress;
  let interrupted = false;
  let seen = 0;
  try {
    final = await followRun(client, started.id, (p) => {
      seen = p.seq;
      show(p);
    });
  } catch (err) {
    if (ctx.signal?.aborted !== true) throw err;
    interrupted = true;
    final = await cancelAndWait(ctx, command, started.id, seen, show);
  }

  if (text) ctx.out(`${recapText(final.hosts, ctx.color)}${statusLine(final, final.hosts)}`);
  else {
    const detached = detachedClient(ctx, command);
    try {
      ctx.out(formatDocument('json', await detached.get(`/v1/runs/${encodeURIComponent(started.id)}`, RunDocumentSchema)));
    } finally {
      detached.close();
    }
  }
  if (interrupted) throw new AbortedError();
  if (final.status !== 'succeeded') {
    const failed = final.hosts.filter((h) => h.status !== 'succeeded').map((h) => `${h.name} (${h.status})`);
    throw new CtlError(`run ${final.id} ${final.status}: ${failed.join(', ')}`, EXIT_FAILURE);
  }
}

/** A client without the interrupt signal, for the requests that must still go out after Ctrl-C. */
function detachedClient(ctx: CliContext, command: Command): ApiClient {
  const { config, server } = ctx.config(command);
  return new ApiClient({ server, caCert: config.caCert, token: config.token });
}

async function cancelAndWait(ctx: CliContext, command: Command, id: string, after: number, show: (p: RunProgress) => void): Promise<RunProgress> {
  ctx.note(`Interrupted: cancelling run ${id} (the task in progress finishes or is aborted, the rest are skipped)…`);
  const detached = detachedClient(ctx, command);
  try {
    await detached.post(`/v1/runs/${encodeURIComponent(id)}/cancel`, {}, RunDocumentSchema);
    return await followRun(detached, id, show, after);
  } finally {
    detached.close();
  }
}
