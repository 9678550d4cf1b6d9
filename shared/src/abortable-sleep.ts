/**
 * A pause that ends early, without an error, when `signal` aborts: for polling loops that check the
 * signal themselves after each pause (the Redfish fence's power-state polls, the self-fence wait).
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
