/** Runs async functions one at a time, in the order given; a failure does not block the next. */
export type SerialQueue = <T>(fn: () => Promise<T>) => Promise<T>;

/** Creates a {@link SerialQueue}. */
export function createSerialQueue(): SerialQueue & { idle(): Promise<void> } {
  let tail: Promise<unknown> = Promise.resolve();
  const run = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = tail.then(fn, fn);
    tail = next.catch(() => undefined);
    return next;
  };
  return Object.assign(run, { idle: () => tail.then(() => undefined) });
}
