/**
 * `ballastctl artifacts import|list|fetch` (and `keygen|sign`, artifacts-signing.ts): the controller's
 * artifact mirror (`bundle`, which needs no controller, is artifacts-bundle.ts). `import` streams a
 * bundle tarball (it may be gigabytes) straight from disk to the controller, with progress on
 * stderr; the controller verifies every file before any of it is imported.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Command } from 'commander';
import {
  type ArtifactImportResponse,
  ArtifactImportResponseSchema,
  type ArtifactInfo,
  ArtifactListResponseSchema,
} from '../../../shared/src/artifacts-api.js';
import type { CliContext } from '../context.js';
import { AbortedError, apiError, CtlError, EXIT_FAILURE, usageError } from '../errors.js';
import { type Cell, formatBytes, formatTable, relative } from '../format.js';
import { networkError } from '../net-errors.js';
import { formatDocument, outputOption } from '../output.js';
import { ctlVersion } from '../version.js';
import { registerBundle } from './artifacts-bundle.js';
import { readCatalogue } from './catalogue-file.js';
import { registerArtifactSigning } from './artifacts-signing.js';
import { withExamples } from './common.js';

/** Uploads at least this large show progress. */
const PROGRESS_FROM_BYTES = 8 * 1024 * 1024;
/** Verifying a 2 GiB bundle and downloading a catalogue take a while; the controller answers at the end. */
const LONG_TIMEOUT_MS = 60 * 60_000;
const checkImport = TypeCompiler.Compile(ArtifactImportResponseSchema);

/** The mirror as a table: one row per artifact. */
export function artifactTable(items: readonly ArtifactInfo[], now: number): string {
  const rows = items.map((a): Cell[] => [a.name, a.version, `${a.os}/${a.arch}`, formatBytes(a.size), `${a.sha256.slice(0, 12)}…`, relative(a.importedAt, now)]);
  return formatTable(['NAME', 'VERSION', 'PLATFORM', 'SIZE', 'SHA256', 'IMPORTED'], rows);
}

/** What an import or fetch did, as a table and a summary line. */
export function importResultText(res: ArtifactImportResponse, color = false): string {
  const rows = res.items.map((i): Cell[] => [
    i.artifact.name,
    i.artifact.version,
    `${i.artifact.os}/${i.artifact.arch}`,
    i.status === 'added' ? { text: 'added', tone: 'green' } : { text: 'unchanged', tone: 'dim' },
    formatBytes(i.artifact.size),
    `${i.artifact.sha256.slice(0, 12)}…`,
  ]);
  const n = res.items.length;
  const table = formatTable(['NAME', 'VERSION', 'PLATFORM', 'STATUS', 'SIZE', 'SHA256'], rows, color);
  return `${table}${n} artifact${n === 1 ? '' : 's'} verified: ${res.added} added, ${res.unchanged} unchanged\n`;
}

/** Registers the `artifacts` group. */
export function registerArtifacts(program: Command, ctx: CliContext): void {
  const group = program.command('artifacts').description('the offline artifact mirror agents install binaries from');
  withExamples(group, [
    'ballastctl artifacts bundle --out bundle.tar --kubernetes-images',
    'ballastctl artifacts sign bundle.tar --key ./release.key',
    'ballastctl artifacts import bundle.tar',
    'ballastctl artifacts list',
    'ballastctl artifacts fetch',
    'ballastctl artifacts keygen --out ./release',
  ]);

  const importCmd = group
    .command('import')
    .description(
      'upload an offline bundle (tar or tar.gz with manifest.yaml); every file is verified before anything is imported. ' +
        "The built-in catalogue's pinned builds: any operator. Anything else: an admin, and the bundle signed (\"artifacts sign\") by a key the controller trusts",
    )
    .argument('<bundle>', 'the bundle file')
    .addOption(outputOption(['text', 'json']))
    .action(async (file: string, opts: { output: 'text' | 'json' }, command: Command) => {
      const res = await uploadBundle(ctx, command, file);
      ctx.out(opts.output === 'json' ? formatDocument('json', res) : importResultText(res, ctx.color));
    });
  withExamples(importCmd, ['ballastctl artifacts import ballast-bundle-1.30.tar.gz', 'ballastctl artifacts import bundle.tar -o json']);

  const list = group
    .command('list')
    .description('list the artifacts in the mirror')
    .addOption(outputOption(['table', 'json', 'yaml']))
    .action(async (opts: { output: 'table' | 'json' | 'yaml' }, command: Command) => {
      const res = await ctx.client(command).get('/v1/artifacts', ArtifactListResponseSchema);
      if (opts.output !== 'table') ctx.out(formatDocument(opts.output, res));
      else if (res.items.length === 0) ctx.note('No artifacts. Import a bundle with "ballastctl artifacts import" or run "ballastctl artifacts fetch".');
      else ctx.out(artifactTable(res.items, ctx.now()));
    });
  withExamples(list, ['ballastctl artifacts list', 'ballastctl artifacts list -o json']);

  const fetchCmd = group
    .command('fetch')
    .description(
      "admin: download a versions catalogue's pinned upstream files on the controller (it needs internet access; agents never do); " +
        "https only, to the controller's --artifact-upstream hosts, never to loopback, private or link-local addresses",
    )
    .option('--catalogue <file>', 'catalogue (YAML or JSON list of name, version, os, arch, url, sha256; https URLs); default: the built-in one')
    .addOption(outputOption(['text', 'json']))
    .action(async (opts: { catalogue?: string; output: 'text' | 'json' }, command: Command) => {
      const body = opts.catalogue === undefined ? {} : { catalogue: await readCatalogue(opts.catalogue) };
      ctx.note(`fetching ${opts.catalogue === undefined ? "the controller's built-in catalogue" : opts.catalogue} on the controller; this can take minutes`);
      const res = await ctx.client(command).post('/v1/artifacts/fetch', body, ArtifactImportResponseSchema, { timeoutMs: LONG_TIMEOUT_MS });
      ctx.out(opts.output === 'json' ? formatDocument('json', res) : importResultText(res, ctx.color));
    });
  withExamples(fetchCmd, ['ballastctl artifacts fetch', 'ballastctl artifacts fetch --catalogue versions-1.30.yaml -o json']);
  registerArtifactSigning(group, ctx);
  registerBundle(group, ctx);
}

/** Streams `file` to POST /v1/artifacts/import and returns the validated answer. */
async function uploadBundle(ctx: CliContext, command: Command, file: string): Promise<ArtifactImportResponse> {
  const { config, server } = ctx.config(command);
  let size: number;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw usageError(`${file} is not a file`);
    size = info.size;
  } catch (err) {
    if (err instanceof CtlError) throw err;
    throw usageError(`cannot read bundle ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const url = new URL(server.href);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/artifacts/import`;
  const origin = server.href.replace(/\/+$/, '');
  const headers = {
    accept: 'application/json',
    authorization: `Bearer ${config.token}`,
    'content-type': 'application/octet-stream',
    'content-length': size,
    'user-agent': `ballastctl/${ctlVersion()}`,
  };
  const req = url.protocol === 'https:' ? https.request(url, { method: 'POST', headers, ca: config.caCert }) : http.request(url, { method: 'POST', headers });
  req.setTimeout(LONG_TIMEOUT_MS, () => req.destroy(new CtlError(`controller ${origin} did not answer the import within ${LONG_TIMEOUT_MS / 60_000} minutes`, EXIT_FAILURE)));
  const onAbort = () => req.destroy(new AbortedError());
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  try {
    const upload = createReadStream(file);
    // A failed upload also fails the request, so its error surfaces through `response` below.
    void pipeline(upload, progressMeter(ctx, basename(file), size), req).catch(() => undefined);
    const res = await response;
    const text = await readBody(res);
    upload.destroy(); // after an early answer (401, 413 …) the rest of the file is not wanted
    return decodeAnswer(res.statusCode ?? 0, text, origin);
  } catch (err) {
    if (err instanceof CtlError || err instanceof AbortedError) throw err;
    throw networkError(err, origin);
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/** Counts bytes; on large uploads prints progress to stderr (rewritten in place on a terminal). */
function progressMeter(ctx: CliContext, name: string, total: number): Transform {
  const tty = ctx.io.stderr.isTTY === true;
  let sent = 0;
  let lastAt = 0;
  let lastQuarter = 0;
  const show = total >= PROGRESS_FROM_BYTES;
  const line = () => `uploading ${name}: ${Math.floor((sent / total) * 100)}% (${formatBytes(sent)} of ${formatBytes(total)})`;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      sent += chunk.length;
      if (show && tty && Date.now() - lastAt > 250) {
        lastAt = Date.now();
        ctx.io.stderr.write(`\r${line()}`);
      } else if (show && !tty && Math.floor((sent / total) * 4) > lastQuarter) {
        lastQuarter = Math.floor((sent / total) * 4);
        ctx.note(line());
      }
      done(null, chunk);
    },
    flush(done) {
      if (show) ctx.io.stderr.write(`${tty ? `\r${line()}\n` : ''}uploaded; the controller is verifying the bundle\n`);
      done();
    },
  });
}

function readBody(res: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (d: string) => {
      if (text.length < 4 * 1024 * 1024) text += d;
    });
    res.on('end', () => resolve(text));
    res.on('error', reject);
  });
}

/** The import answer, or the controller's coded error as one line (same wording as the API client). */
function decodeAnswer(status: number, text: string, origin: string): ArtifactImportResponse {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  if (status >= 200 && status < 300) {
    if (checkImport.Check(body)) return body;
    throw new CtlError(`unexpected response from controller ${origin} to POST /v1/artifacts/import: it does not match the API schema`, EXIT_FAILURE);
  }
  const err = (body ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : `HTTP_${status}`;
  const message = typeof err.message === 'string' ? err.message : text.trim().slice(0, 200) || (http.STATUS_CODES[status] ?? 'no message');
  throw apiError({ server: origin, status, code, message });
}
