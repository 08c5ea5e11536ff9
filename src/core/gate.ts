/**
 * Runs task functions in the async context their tasks were submitted from, without `node:async_hooks`:
 * a promise's reactions run in the context they were attached in (AsyncLocalStorage values, and the
 * AsyncContext proposal alike). A gate keeps one pending promise with a reaction attached where it was
 * made; waking it resolves that promise, and the reaction, in the maker's context, runs what waits
 * there and, if the gate is to be used again, attaches the next one. One gate serves a whole batch,
 * one the dispatcher's own context, and one a `submit` that captures its caller's.
 */
export class Gate {
  #wake: (() => void) | null = null;

  constructor(
    readonly hops: Hops,
    /** False for a gate that will open once only (a submit that cannot retry): it is not armed again. */
    readonly reusable = true,
  ) {
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
      if (this.reusable) {
        this.#arm();
      }
      this.hops.drain(this);
    });
  }
}

/** What waits at a gate: a slot whose job's function is to run there. */
export interface Hopper {
  /** The gate it waits at, set while it waits. */
  hopGate: Gate | null;
  /** Runs the function, in the gate's context. Must not throw. */
  hop(): void;
}

/**
 * The slots waiting to run functions in their gates, in the order their tasks started: only the gate of
 * the oldest is woken, so functions are called in start order whichever gates they go through.
 */
export class Hops {
  #waiting: Hopper[] = [];
  #at = 0;

  get empty(): boolean {
    return this.#at === this.#waiting.length;
  }

  /** Calls `hopper.hop()` in `gate`'s context once every one queued before it has run. */
  run(gate: Gate, hopper: Hopper): void {
    hopper.hopGate = gate;
    if (this.#waiting.push(hopper) - this.#at === 1) {
      gate.wake();
    }
  }

  /** `gate` is awake: runs the hoppers at the head of the line waiting for it, then wakes the gate of the next. */
  drain(gate: Gate): void {
    const waiting = this.#waiting;
    while (this.#at < waiting.length && (waiting[this.#at] as Hopper).hopGate === gate) {
      const hopper = waiting[this.#at] as Hopper;
      waiting[this.#at++] = noHopper;
      hopper.hopGate = null;
      hopper.hop();
    }
    if (this.#at === waiting.length) {
      waiting.length = 0;
      this.#at = 0;
    } else {
      (waiting[this.#at] as Hopper).hopGate?.wake();
    }
  }
}

const noHopper: Hopper = { hopGate: null, hop() {} };
