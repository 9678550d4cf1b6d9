/**
 * Per-file progress of `artifacts bundle` on stderr: bytes so far of the announced total and the
 * rate. On a terminal one line is rewritten in place (at most 4 times a second); otherwise (CI
 * logs, pipes) a line is printed at each quarter and at the end, so logs stay short.
 */
import type { OutStream } from '../context.js';
import { formatBytes } from '../format.js';
import type { DownloadProgress } from '../../../shared/src/verified-download.js';

/** "293.1KiB", "1.4MiB": formatBytes with the B the table format leaves out. */
function bytes(n: number): string {
  const s = formatBytes(n);
  return s.endsWith('B') ? s : `${s}B`;
}

/** One file's progress display. */
export interface FileProgress {
  update(p: DownloadProgress): void;
  /** The file is complete and verified (`from` says whether it came from the cache). */
  done(size: number, from: 'download' | 'cache'): void;
}

/** Creates progress displays writing to `stderr`; `now` is the clock (ms). */
export function progressReporter(stderr: OutStream, now: () => number = Date.now): (label: string) => FileProgress {
  const tty = stderr.isTTY === true;
  return (label) => {
    const started = now();
    let lastDraw = 0;
    let lastQuarter = 0;
    let drawn = false;
    const rate = (n: number) => {
      const secs = Math.max((now() - started) / 1000, 0.001);
      return `${bytes(Math.round(n / secs))}/s`;
    };
    const line = (p: DownloadProgress) =>
      p.total === undefined
        ? `${label}: ${bytes(p.bytes)}, ${rate(p.bytes)}`
        : `${label}: ${bytes(p.bytes)} of ${bytes(p.total)} (${Math.floor((p.bytes / Math.max(p.total, 1)) * 100)}%), ${rate(p.bytes)}`;
    return {
      update(p) {
        if (tty) {
          if (now() - lastDraw < 250) return;
          lastDraw = now();
          drawn = true;
          stderr.write(`\r\x1b[2K${line(p)}`);
          return;
        }
        if (p.total === undefined || p.total === 0) return;
        const quarter = Math.floor((p.bytes / p.total) * 4);
        if (quarter > lastQuarter && quarter < 4) {
          lastQuarter = quarter;
          stderr.write(`${line(p)}\n`);
        }
      },
      done(size, from) {
        const secs = ((now() - started) / 1000).toFixed(1);
        const text = from === 'cache' ? `${label}: ${bytes(size)} from the cache, sha256 verified` : `${label}: ${bytes(size)} in ${secs} s (${rate(size)}), sha256 verified`;
        stderr.write(`${tty && drawn ? '\r\x1b[2K' : ''}${text}\n`);
      },
    };
  };
}
