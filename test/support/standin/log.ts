/**
 * The log the recording stand-ins (kubeadm, kubelet, kubectl, crictl in this directory) append to,
 * for tests that assert the calls and their order. The stand-ins exist because the real binaries
 * cannot be installed or run on the machines the tests run on.
 *
 * One line per step: `<ISO time> TAB <what> TAB <details>`. kubeadm's lines carry its argv without
 * the program name and `config-sha256=<hash|->` as details (pinned by its own test); every other
 * stand-in writes `<program> <argv>` or an event, and `prog=<name> pid=<pid>`.
 */
import { join } from 'node:path';

/** The log's path on a host unless BALLAST_STANDIN_LOG says otherwise. */
export const STANDIN_LOG = '/var/log/ballast-standin/calls.log';
/** The host file the kubelet stand-in sources (FAKE_APISERVER=host:port, …). */
export const STANDIN_ENV = '/etc/kubernetes/standin.env';
/** The directory holding the stand-in scripts. */
export const STANDIN_DIR = import.meta.dirname.replace(/\/dist\/test\/support\/standin$/, '/test/support/standin');
/** The path of one stand-in script. */
export const standinPath = (name: 'kubeadm' | 'kubelet' | 'kubectl' | 'crictl'): string => join(STANDIN_DIR, name);

/** One parsed line. */
export interface StandinLogEntry {
  time: string;
  /** Which stand-in wrote it. */
  prog: 'kubeadm' | 'kubelet' | 'kubectl' | 'crictl' | string;
  /** kubeadm: its argv; the others: `<prog> <argv>` for a call, or an event. */
  what: string;
  details: Record<string, string>;
}

/** Parses the log's text; lines that are not three tab-separated fields are skipped. */
export function parseStandinLog(text: string): StandinLogEntry[] {
  const out: StandinLogEntry[] = [];
  for (const line of text.split('\n')) {
    const [time, what, rest, ...extra] = line.split('\t');
    if (time === undefined || what === undefined || rest === undefined || extra.length > 0) continue;
    const details = Object.fromEntries(
      rest
        .split(' ')
        .filter((kv) => kv.includes('='))
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    out.push({ time, prog: details.prog ?? ('config-sha256' in details ? 'kubeadm' : 'unknown'), what, details });
  }
  return out;
}
