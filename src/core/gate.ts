/**
 * Runs task functions in the async context their tasks were submitted from, without `node:async_hooks`:
 * a promise's reactions run in the context they were attached in (AsyncLocalStorage values, and the
 * AsyncContext proposal alike). A gate keeps one pending promise with a reaction attached where it was
 * made; waking it resolves that promise, and the reaction, in the maker's context, runs what waits
 * there and attaches the next one. One gate serves a whole `dispatch` batch, and one a `submit`: a
 * pending promise per call, collected with its jobs.
 */
export class Gate {
  #wake: (() => void) | null = null;

  constructor(readonly hops: Hops) {
    this.#arm();
  }

  /** Resumes the gate, unless it is already awake. */
  wake(): void {
    const wake = this.#wake;
    if (wake !== null) {
      this.#wake = null;
      wake();
    }
  }

  #arm(): void {
    new Promise<void>((resolve) => {
      this.#wake = resolve;
    }).then(() => {
      // In the maker's context: so is the next reaction, attached from here.
      this.#arm();
      this.hops.drain(this);
    });
  }
}

/**
 * The functions waiting to run in their gates, in the order their tasks started: only the gate of the
 * oldest is woken, so functions are called in start order whichever gates they go through.
 */
export class Hops {
  readonly #waiting: { gate: Gate; fn: () => void }[] = [];

  get empty(): boolean {
    return this.#waiting.length === 0;
  }

  /** Calls `fn` in `gate`'s context once every function queued before it has run. `fn` must not throw. */
  run(gate: Gate, fn: () => void): void {
    if (this.#waiting.push({ gate, fn }) === 1) {
      gate.wake();
    }
  }

  /** `gate` is awake: runs its functions at the head of the line, then wakes the gate of the next. */
  drain(gate: Gate): void {
    const waiting = this.#waiting;
    while (waiting[0]?.gate === gate) {
      (waiting.shift() as { fn: () => void }).fn();
    }
    waiting[0]?.gate.wake();
  }
}
