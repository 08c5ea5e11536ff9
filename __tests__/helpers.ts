/** A promise with its resolve and reject in hand, to settle a task exactly when a test says so. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(reason: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets every queued microtask (and the ones they queue) run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await Promise.resolve();
  }
}

/** A task function that waits for its signal and rejects with the abort reason: a cooperative `fetch`. */
export function untilAborted({ signal }: { signal: AbortSignal }): Promise<never> {
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/** Polls `check` on the real clock until it holds; resolves with the milliseconds it took. */
export async function until(check: () => boolean, timeoutMs = 2_000): Promise<number> {
  const started = performance.now();
  while (!check()) {
    if (performance.now() - started > timeoutMs) {
      throw new Error('condition not met in time');
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return performance.now() - started;
}

/** Advances Jest's fake time and lets the promise callbacks it triggers run. */
export async function advance(ms: number): Promise<void> {
  const { jest } = await import('@jest/globals');
  await jest.advanceTimersByTimeAsync(ms);
  await flush();
}

/** Counts the listeners added to `signal` and not removed: `count()` should be 0 once the work is done. */
export function countListeners(signal: AbortSignal): { count(): number } {
  let listeners = 0;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = ((...args: Parameters<typeof add>) => {
    listeners++;
    add(...args);
  }) as typeof add;
  signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
    listeners--;
    remove(...args);
  }) as typeof remove;
  return { count: () => listeners };
}
