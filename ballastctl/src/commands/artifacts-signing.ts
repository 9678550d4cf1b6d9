/**
 * `ballastctl artifacts keygen` and `artifacts sign`: the admin's side of signed bundles. Both run
 * locally (no controller, no config): the private key never leaves the machine it was made on.
 * The controller trusts a key only when started with `--artifact-trust-key <file.pub>`.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { generateKeyFiles, signBundle } from '../bundle-sign.js';
import type { CliContext } from '../context.js';
import { withExamples } from './common.js';

/** Adds `keygen` and `sign` to the `artifacts` group. */
export function registerArtifactSigning(group: Command, ctx: CliContext): void {
  const keygen = group
    .command('keygen')
    .description(
      'make an ed25519 key pair for signing bundles: PREFIX.key (private, 0600; keep it off the controller) and PREFIX.pub ' +
        '(give it to the controller with --artifact-trust-key); runs locally, refuses to overwrite',
    )
    .requiredOption('--out <prefix>', 'path prefix of the two files, e.g. ./release writes release.key and release.pub')
    .action(async (opts: { out: string }) => {
      const r = await generateKeyFiles(resolve(opts.out));
      ctx.out(`wrote ${r.keyFile} (private key, 0600) and ${r.pubFile} (public key)\nkey id ${r.keyId}\n`);
      ctx.note(`next: copy ${r.pubFile} to the controller and start it with --artifact-trust-key <that file>; sign bundles with "ballastctl artifacts sign BUNDLE --key ${r.keyFile}"`);
    });
  withExamples(keygen, ['ballastctl artifacts keygen --out ./ballast-release']);

  const sign = group
    .command('sign')
    .description(
      "sign a bundle: checks every file against manifest.yaml, then writes manifest.yaml.sig (ed25519 over the manifest's exact bytes) " +
        'into a new bundle, replacing the output atomically; runs locally. An admin may import a bundle of artifacts the built-in ' +
        'catalogue does not pin only when a key the controller trusts signed it',
    )
    .argument('<bundle>', 'the bundle (tar or tar.gz with manifest.yaml)')
    .requiredOption('--key <file>', 'the private key (PEM, from "artifacts keygen" or "openssl genpkey -algorithm ed25519")')
    .option('--out <file>', 'where to write the signed bundle (default: replace <bundle>)')
    .action(async (bundle: string, opts: { key: string; out?: string }) => {
      const out = resolve(opts.out ?? bundle);
      const r = await signBundle({ bundle: resolve(bundle), keyFile: resolve(opts.key), out, signal: ctx.signal });
      const n = `${r.artifacts} artifact${r.artifacts === 1 ? '' : 's'}`;
      ctx.out(`signed the manifest of ${bundle} (${n} verified) with key ${r.keyId}${r.replaced ? ', replacing its old signature' : ''}; wrote ${out}\n`);
    });
  withExamples(sign, ['ballastctl artifacts sign bundle.tar.gz --key ./ballast-release.key', 'ballastctl artifacts sign bundle.tar --key release.key --out bundle-signed.tar']);
}
