/**
 * What a command needs from the outside world, behind one object: output streams, environment,
 * the config and an API client (both created lazily, so `version` and `--help` need no config).
 * runCli builds one per invocation; tests pass in-memory streams.
 */
import { homedir as osHomedir } from 'node:os';
import type { Command } from 'commander';
import { ApiClient } from './client.js';
import { loadConfig, type ResolvedConfig } from './config.js';

/** The part of a writable stream ballastctl uses. */
export interface OutStream {
  write(chunk: string): unknown;
  /** True when writing to a terminal: enables colours and screen redraws. */
  isTTY?: boolean;
}

/** The process boundary of the CLI, injectable for tests. */
export interface CliIo {
  stdout: OutStream;
  stderr: OutStream;
  env: Record<string, string | undefined>;
  /** Home directory for the default config path (~/.config/ballast/config). */
  homedir?: string;
  /** Directory relative `--config` paths are resolved against. */
  cwd?: string;
  /** Aborted on SIGINT: streaming commands stop cleanly, others exit 130. */
  signal?: AbortSignal;
  /** Clock for ages, injectable so output tests are deterministic. */
  now?: () => number;
}

/** Options defined on the root command and visible to every subcommand. */
export interface GlobalOptions {
  config?: string;
  server?: string;
}

/** Per-invocation state shared by the commands. */
export class CliContext {
  readonly io: CliIo;
  private resolved: ResolvedConfig | undefined;
  private api: ApiClient | undefined;

  constructor(io: CliIo) {
    this.io = io;
  }

  /** Colours only on a terminal, and never when NO_COLOR is set (no-color.org). */
  get color(): boolean {
    return this.io.stdout.isTTY === true && (this.io.env.NO_COLOR ?? '') === '';
  }

  /** Current time in ms. */
  now(): number {
    return this.io.now?.() ?? Date.now();
  }

  /** The interrupt signal, if any. */
  get signal(): AbortSignal | undefined {
    return this.io.signal;
  }

  /** Writes to stdout. */
  out(text: string): void {
    this.io.stdout.write(text);
  }

  /** Writes one line to stderr. */
  note(line: string): void {
    this.io.stderr.write(`${line}\n`);
  }

  /** Loads the config once per invocation (throws a config error, exit 2). */
  config(cmd: Command): ResolvedConfig {
    if (this.resolved === undefined) {
      // The root's own options, not optsWithGlobals: a command's option of the same name
      // (`cluster kubeconfig --server`, the API server) must never be read as the controller URL.
      let root = cmd;
      while (root.parent !== null) root = root.parent;
      const globals = root.opts<GlobalOptions>();
      this.resolved = loadConfig(
        { flag: globals.config, env: this.io.env, homedir: this.io.homedir ?? osHomedir(), cwd: this.io.cwd ?? process.cwd() },
        globals.server,
        (line) => this.note(line),
      );
    }
    return this.resolved;
  }

  /** The API client for the configured controller. */
  client(cmd: Command): ApiClient {
    if (this.api === undefined) {
      const { config, server } = this.config(cmd);
      this.api = new ApiClient({
        server,
        caCert: config.caCert,
        token: config.token,
        ...(this.io.signal === undefined ? {} : { signal: this.io.signal }),
      });
    }
    return this.api;
  }

  /** Releases network resources. */
  close(): void {
    this.api?.close();
  }
}
