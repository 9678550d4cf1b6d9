/**
 * Packs a bundle atomically: the manifest and the verified files go into a temp file next to the
 * output, which is fsynced and renamed over `out` only when complete — an interrupted or failed
 * run leaves no bundle (and no half of one) under the output name. The tarball is plain (not
 * gzip'd: binaries and image layers are compressed already) with `manifest.yaml` as its first
 * member, the shape `artifacts import` and `artifacts sign` take.
 *
 * A run killed outright (SIGKILL, power loss) cannot clean up: its hidden `.<name>.*` temp entries
 * next to the output are removed by the next run for the same output ({@link removeLeftovers}).
 * Two runs writing the same output at once are not supported.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { stringify } from 'yaml';
import { type ArtifactSpec, BUNDLE_MANIFEST } from '../../../shared/src/artifacts-api.js';
import { parseManifest } from '../../../controller/src/artifacts/manifest.js';
import { createTar } from './tar.js';

/** One verified file and its manifest entry (`spec.file` is its path in the bundle). */
export interface BundleMember {
  spec: ArtifactSpec;
  /** Where the verified file is on disk (usually the download cache). */
  path: string;
}

/** Options of {@link writeBundleFile}. */
export interface WriteBundleOptions {
  out: string;
  members: readonly BundleMember[];
  /** Comment lines at the top of manifest.yaml (provenance). */
  header: readonly string[];
  signal?: AbortSignal;
}

/** Writes the bundle; validates the manifest with the controller's own parser first. */
export async function writeBundleFile(opts: WriteBundleOptions): Promise<void> {
  const specs = opts.members.map((m) => m.spec);
  const text = `${opts.header.map((l) => `# ${l}`).join('\n')}\n${stringify(specs)}`;
  parseManifest(text, `the manifest of ${opts.out}`); // same checks as the import: unique keys and files, schema
  const dir = dirname(opts.out);
  const stage = await mkdtemp(join(dir, `.${basename(opts.out)}.stage-`));
  const tmp = join(dir, `.${basename(opts.out)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(join(stage, BUNDLE_MANIFEST), text, { mode: 0o644 });
    const members = [BUNDLE_MANIFEST];
    const dirs = new Set<string>();
    for (const m of opts.members) {
      // Parent directories as their own members, so that every tar reader creates them.
      const parts = m.spec.file.split('/').slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const d = parts.slice(0, i).join('/');
        if (!dirs.has(d)) {
          dirs.add(d);
          members.push(d);
          await mkdir(join(stage, d), { recursive: true });
        }
      }
      await symlink(m.path, join(stage, m.spec.file));
      members.push(m.spec.file);
    }
    await createTar({ out: tmp, dir: stage, members, what: `bundle ${opts.out}`, ...(opts.signal === undefined ? {} : { signal: opts.signal }) });
    opts.signal?.throwIfAborted();
    await rename(tmp, opts.out);
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } finally {
    await rm(tmp, { force: true });
    await rm(stage, { recursive: true, force: true });
  }
}

/** Removes what an earlier run for `out` that was killed left next to it (never `out` itself). */
export async function removeLeftovers(out: string): Promise<string[]> {
  const dir = dirname(out);
  const prefix = `.${basename(out)}.`;
  const stale = (await readdir(dir)).filter((n) => n.startsWith(prefix) && (/^(stage|images)-/.test(n.slice(prefix.length)) || n.endsWith('.tmp')));
  for (const n of stale) await rm(join(dir, n), { recursive: true, force: true });
  return stale;
}
