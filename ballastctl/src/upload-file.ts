/**
 * Streams a local file as a request body to the controller (`etcd snapshot import`, `artifacts
 * import`): never read into memory, progress on stderr for
 * large files (rewritten in place on a terminal, quarters otherwise), the answer validated against
 * its schema, a coded error printed as the API client prints it.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { basename } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import { AbortedError, apiError, CtlError, EXIT_FAILURE, usageError } from './errors.js';
import { formatBytes } from './format.js';
import { networkError } from './net-errors.js';
import { ctlVersion } from './version.js';

/** Files at least this large show progress. */
export const PROGRESS_FROM_BYTES = 8 * 1024 * 1024;

/** What {@link uploadFile} sends where. */
export interface UploadFileOptions<S extends TSchema> {
  file: string;
  /** API path with its query, e.g. `/v1/etcd/snapshots/import?cluster=prod`. */
  path: string;
  schema: S;
  /** Printed once the last byte is sent, e.g. "the controller is verifying the snapshot". */
  afterUpload: string;
  timeoutMs: number;
  /** What the file is, for messages ("bundle"); default "file". */
  what?: string;
}

/** Size of `file`, or a usage error saying why it cannot be read. */
export async function fileSize(file: string, what: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw usageError(`${what} ${file} is not a file`);
    return info.size;
  } catch (err) {
    if (err instanceof CtlError) throw err;
    throw usageError(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

/** See the file comment. */
export async function uploadFile<S extends TSchema>(ctx: CliContext, command: Command, opts: UploadFileOptions<S>): Promise<Static<S>> {
  const { config, server } = ctx.config(command);
  const size = await fileSize(opts.file, opts.what ?? 'file');
  const base = server.href.replace(/\/+$/, '');
  const url = new URL(`${base}${opts.path}`);
  const headers = {
    accept: 'application/json',
    authorization: `Bearer ${config.token}`,
    'content-type': 'application/octet-stream',
    'content-length': size,
    'user-agent': `ballastctl/${ctlVersion()}`,
  };
  const req = url.protocol === 'https:' ? https.request(url, { method: 'POST', headers, ca: config.caCert }) : http.request(url, { method: 'POST', headers });
  req.setTimeout(opts.timeoutMs, () => req.destroy(new CtlError(`controller ${base} did not answer the upload of ${opts.file} within ${opts.timeoutMs / 60_000} minutes`, EXIT_FAILURE)));
  const onAbort = () => req.destroy(new AbortedError());
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const response = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
  });
  try {
    const upload = createReadStream(opts.file);
    // A failed upload also fails the request, so its error surfaces through `response` below.
    void pipeline(upload, progressMeter(ctx, basename(opts.file), size, opts.afterUpload), req).catch(() => undefined);
    const res = await response;
    const text = await readBody(res);
    upload.destroy(); // after an early answer (401, 413 …) the rest of the file is not wanted
    return decodeAnswer(res.statusCode ?? 0, text, base, opts);
  } catch (err) {
    if (err instanceof CtlError || err instanceof AbortedError) throw err;
    throw networkError(err, base);
  } finally {
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/** Counts bytes; on large files prints progress to stderr. */
function progressMeter(ctx: CliContext, name: string, total: number, after: string): Transform {
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
      if (show) ctx.io.stderr.write(`${tty ? `\r${line()}\n` : ''}uploaded; ${after}\n`);
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

function decodeAnswer<S extends TSchema>(status: number, text: string, origin: string, opts: UploadFileOptions<S>): Static<S> {
  let body: unknown;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    body = undefined;
  }
  if (status >= 200 && status < 300) {
    if (TypeCompiler.Compile(opts.schema).Check(body)) return body as Static<S>;
    throw new CtlError(`unexpected response from controller ${origin} to POST ${opts.path}: it does not match the API schema`, EXIT_FAILURE);
  }
  const err = (body ?? {}) as { code?: unknown; message?: unknown };
  const code = typeof err.code === 'string' ? err.code : `HTTP_${status}`;
  const message = typeof err.message === 'string' ? err.message : text.trim().slice(0, 200) || (http.STATUS_CODES[status] ?? 'no message');
  throw apiError({ server: origin, status, code, message });
}
