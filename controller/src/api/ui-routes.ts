/**
 * The web UI's static files under `/ui` (README "Web UI"). Public: the files hold no data; every
 * figure the UI shows comes from the JSON API with the operator's bearer token, so a viewer sees
 * and an operator acts exactly as with ballastctl.
 *
 * The build output (Vite, `npm run build`) is read once when the plugin registers, into a map of
 * exact paths: a request can only name one of those files, so there is no path to normalise and
 * nothing outside the directory to reach. A missing build leaves `/ui` answering a coded 404 that
 * says how to build it, and the rest of the API unaffected.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { Type } from '@sinclair/typebox';
import { BallastError } from '../../../shared/src/errors.js';

/** Options of {@link uiRoutes}. */
export interface UiRoutesOptions {
  /** The built UI (index.html and assets/); null or a missing directory = not built. */
  dir: string | null;
}

/** One servable file, held in memory. */
interface UiFile {
  body: Buffer;
  type: string;
  /** Vite content-hashes asset names, so they may be cached for good; index.html never. */
  immutable: boolean;
}

/** Bounds what is loaded: the built UI is ~30 KB; anything near these limits is not our build. */
const MAX_FILES = 200;
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const ASSET_PATH = /^assets\/[A-Za-z0-9._-]{1,120}$/;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * Sent with every UI response. `default-src 'self'` with no 'unsafe-inline': the build emits no
 * inline script or style, so an injected `<script>` or `style=` cannot run; `connect-src 'self'`
 * keeps the token from being sent anywhere but this controller; DENY / frame-ancestors stop
 * click-jacking of the action buttons.
 */
export const UI_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

/** Reads the build into memory; an absent directory gives an empty map (UI not built). */
export async function loadUiFiles(dir: string | null): Promise<Map<string, UiFile>> {
  const files = new Map<string, UiFile>();
  if (dir === null) return files;
  let entries: string[];
  try {
    entries = (await readdir(dir, { recursive: true })).map(String);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return files;
    throw new BallastError('BALLAST_ERR_INTERNAL', `failed to read the web UI in ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const entry of entries) {
    const path = join(dir, entry);
    const info = await stat(path);
    if (!info.isFile()) continue;
    const name = relative(dir, path).split(sep).join('/');
    const type = TYPES[extname(name)];
    if (type === undefined || (name !== 'index.html' && !ASSET_PATH.test(name))) continue;
    if (info.size > MAX_FILE_BYTES || files.size >= MAX_FILES) {
      throw new BallastError('BALLAST_ERR_INTERNAL', `failed to load the web UI: ${path} is over ${MAX_FILE_BYTES} bytes or the build has over ${MAX_FILES} files`);
    }
    files.set(name, { body: await readFile(path), type, immutable: name !== 'index.html' });
  }
  return files;
}

function send(reply: FastifyReply, file: UiFile): FastifyReply {
  return reply
    .headers(UI_SECURITY_HEADERS)
    .header('content-type', file.type)
    .header('cache-control', file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
    .send(file.body);
}

/** GET /ui, /ui/ and /ui/assets/:file, all public (they carry no data), as a fastify plugin. */
export async function uiRoutes(app: FastifyInstance, opts: UiRoutesOptions): Promise<void> {
  const files = await loadUiFiles(opts.dir);
  const index = (): UiFile => {
    const file = files.get('index.html');
    if (file === undefined) {
      throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to serve the web UI: it is not built in ${opts.dir ?? '(no directory)'} (run npm run build)`);
    }
    return file;
  };
  // No body is ever read on these routes: a GET with one is cut at the smallest limit.
  const common = { bodyLimit: 1024, config: { auth: 'none' as const } };

  app.get('/ui', common, async (_request, reply) => {
    index();
    return reply.headers(UI_SECURITY_HEADERS).redirect('/ui/', 302);
  });
  app.get('/ui/', common, async (_request, reply) => send(reply, index()));
  app.get<{ Params: { file: string } }>(
    '/ui/assets/:file',
    { ...common, schema: { params: Type.Object({ file: Type.String({ minLength: 1, maxLength: 120 }) }) } },
    async (request, reply) => {
      const file = files.get(`assets/${request.params.file}`);
      if (file === undefined) throw new BallastError('BALLAST_ERR_NOT_FOUND', `failed to find /ui/assets/${request.params.file}: not part of the web UI build`);
      return send(reply, file);
    },
  );
}
