import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { CtlError } from './errors.js';
import { applyShadowedValues, takeShadowedOptions } from './shadowed-options.js';

/** ballastctl's shape: a global --server and --config, and one command with its own --server. */
function program(): { root: Command; leaf: Command; other: Command } {
  const root = new Command('ctl').option('--server <url>').option('--config <file>');
  const group = root.command('cluster');
  const leaf = group.command('kubeconfig').argument('<name>').option('--server <url>', 'api server', (v: string) => v.toUpperCase()).option('--out <file>');
  const other = group.command('list');
  return { root, leaf, other };
}

describe('takeShadowedOptions', () => {
  it("takes a command's own --server after its word and leaves the global one before it", () => {
    const { root, leaf } = program();
    const { argv, values } = takeShadowedOptions(root, ['--server', 'https://ctl', 'cluster', 'kubeconfig', 'lab', '--server', 'https://api', '--out', 'f']);
    expect(argv).toEqual(['--server', 'https://ctl', 'cluster', 'kubeconfig', 'lab', '--out', 'f']);
    expect(values.map((v) => [v.command, v.option.long, v.value])).toEqual([[leaf, '--server', 'https://api']]);
    const inline = takeShadowedOptions(root, ['cluster', 'kubeconfig', '--server=https://x', 'lab']);
    expect(inline.argv).toEqual(['cluster', 'kubeconfig', 'lab']);
    expect(inline.values.map((v) => v.value)).toEqual(['https://x']);
  });

  it('leaves commands without their own option alone, and stops at -- and at option values', () => {
    const { root } = program();
    expect(takeShadowedOptions(root, ['cluster', 'list', '--server', 'https://ctl']).values).toEqual([]);
    // "kubeconfig" is the value of --config here, not a command word.
    expect(takeShadowedOptions(root, ['cluster', '--config', 'kubeconfig', 'list', '--server', 'x']).values).toEqual([]);
    expect(takeShadowedOptions(root, ['cluster', 'kubeconfig', 'lab', '--', '--server', 'x'])).toEqual({ argv: ['cluster', 'kubeconfig', 'lab', '--', '--server', 'x'], values: [] });
    expect(() => takeShadowedOptions(root, ['cluster', 'kubeconfig', 'lab', '--server'])).toThrow(CtlError);
  });

  it("hands the value through the option's parser to the command that runs, and to no other", async () => {
    const { root, leaf, other } = program();
    const { argv, values } = takeShadowedOptions(root, ['cluster', 'kubeconfig', 'lab', '--server', 'https://api']);
    let seen: unknown;
    leaf.action((_name: string, opts: { server?: string }) => {
      seen = opts.server;
    });
    root.hook('preAction', (_root, action) => applyShadowedValues(action, values));
    await root.parseAsync(argv, { from: 'user' });
    expect(seen).toBe('HTTPS://API');
    expect(root.opts()).toEqual({});
    applyShadowedValues(other, values);
    expect(other.opts()).toEqual({});
  });
});
