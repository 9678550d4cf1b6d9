/**
 * `ballastctl artifacts import|list|fetch` (and `keygen|sign`, artifacts-signing.ts): the controller's
 * artifact mirror (`bundle`, which needs no controller, is artifacts-bundle.ts). `import` streams a
 * bundle tarball (it may be gigabytes) straight from disk to the controller, with progress on
 * stderr; the controller verifies every file before any of it is imported.
 */
import type { Command } from 'commander';
import {
  type ArtifactImportResponse,
  ArtifactImportResponseSchema,
  type ArtifactInfo,
  ArtifactListResponseSchema,
} from '../../../shared/src/artifacts-api.js';
import type { CliContext } from '../context.js';
import { type Cell, formatBytes, formatTable, relative } from '../format.js';
import { formatDocument, outputOption } from '../output.js';
import { registerBundle } from './artifacts-bundle.js';
import { readCatalogue } from './catalogue-file.js';
import { registerArtifactSigning } from './artifacts-signing.js';
import { withExamples } from './common.js';
import { uploadFile } from '../upload-file.js';

/** Verifying a 2 GiB bundle and downloading a catalogue take a while; the controller answers at the end. */
const LONG_TIMEOUT_MS = 60 * 60_000;

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
function uploadBundle(ctx: CliContext, command: Command, file: string): Promise<ArtifactImportResponse> {
  return uploadFile(ctx, command, { file, what: 'bundle', path: '/v1/artifacts/import', schema: ArtifactImportResponseSchema, afterUpload: 'the controller is verifying the bundle', timeoutMs: LONG_TIMEOUT_MS });
}
