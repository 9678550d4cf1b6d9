import { normalize } from 'node:path';
import { BallastError } from '../../../../shared/src/errors.js';
import { lstatOrNull } from '../attrs.js';
import { tail } from '../../host/exec.js';
import { hostPath, type Module } from '../module.js';

const TOOLS = ['etcdctl', 'etcdutl', 'kubeadm', 'kubectl', 'ctr', 'crictl'];

/**
 * The executables `command` may run unless the agent is configured otherwise: the cluster tools,
 * where distribution packages and upstream tarballs put them. Absolute paths only, so PATH cannot
 * change what runs.
 */
export const DEFAULT_COMMAND_ALLOW_LIST: readonly string[] = Object.freeze(
  ['/usr/bin', '/usr/local/bin'].flatMap((dir) => TOOLS.map((tool) => `${dir}/${tool}`)),
);

/** Commands run longer than this are killed unless the task says otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 300_000;

/** Options of {@link createCommandModule}. */
export interface CommandModuleOptions {
  /** Absolute paths of the executables tasks may run; default {@link DEFAULT_COMMAND_ALLOW_LIST}. */
  allow?: readonly string[];
}

/**
 * `command`: runs argv (never a shell) when argv[0] is on the allow-list, honouring `creates`
 * (skip when it exists) and `removes` (skip unless it exists). A command that runs is a change;
 * a non-zero exit fails with the tail of stderr. In check mode it is skipped with what it would run,
 * since a command's effect cannot be predicted.
 */
export function createCommandModule(opts: CommandModuleOptions = {}): Module<'command'> {
  const allow = new Set((opts.allow ?? DEFAULT_COMMAND_ALLOW_LIST).map((p) => normalize(p)));
  return {
    name: 'command',
    async run(args, ctx) {
      const [program] = args.argv;
      if (program === undefined || !program.startsWith('/') || program.split('/').includes('..') || !allow.has(normalize(program))) {
        throw new BallastError(
          'BALLAST_ERR_COMMAND_NOT_ALLOWED',
          `failed to run ${JSON.stringify(program)}: not on the agent's allow-list (${[...allow].join(', ')})`,
          { path: '/args/argv/0' },
        );
      }
      if (args.creates !== undefined && (await lstatOrNull(hostPath(ctx, args.creates))) !== null) {
        return { changed: false, message: `${args.creates} exists; not running ${program}` };
      }
      if (args.removes !== undefined && (await lstatOrNull(hostPath(ctx, args.removes))) === null) {
        return { changed: false, message: `${args.removes} does not exist; not running ${program}` };
      }
      const shown = args.argv.map(quote).join(' ');
      if (ctx.check) return { changed: false, skipped: true, message: `would run ${clip(shown, 1000)}` };
      const started = Date.now();
      const result = await ctx.exec(args.argv, { signal: ctx.signal, timeoutMs: args.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS });
      ctx.log.info({ argv0: program, code: result.code, ms: Date.now() - started }, 'ran command');
      if (result.code !== 0) {
        throw new BallastError('BALLAST_ERR_COMMAND_FAILED', `failed to run ${program}: exit ${result.code}: ${tail(result.stderr || result.stdout)}`);
      }
      const out = tail(result.stdout, 5, 1000);
      return { changed: true, message: `ran ${clip(shown, 1000)}${out ? `: ${out}` : ''}` };
    },
  };
}

/** `command` with the default allow-list. */
export const commandModule: Module<'command'> = createCommandModule();

/** Shell-like quoting for display only; nothing is ever passed to a shell. */
function quote(arg: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
