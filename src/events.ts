import type { DispatchResult } from './result.js';

/** Why starts are paused: `'manual'` for `pause()`/`pauseFor()`, `'rate-limit'` for a 429 or 503 with a Retry-After. */
export type PauseReason = 'manual' | 'rate-limit';

/** Each event's payload, by name. */
export interface DispatcherEvents {
  /** An attempt starts. */
  start: { readonly taskId: string; readonly attempt: number };
  /** A task has its one result. */
  settle: DispatchResult;
  /** An attempt failed and the task will start again after `delayMs`; `error` is the failure's message. */
  retry: { readonly taskId: string; readonly attempt: number; readonly delayMs: number; readonly error: string };
  /** Starts are paused; `untilMs` (epoch milliseconds, as `Date.now()` gives) is absent for `pause()`. */
  pause: { readonly reason: PauseReason; readonly untilMs?: number };
  /** Starts resume. */
  resume: undefined;
  /** The concurrency limit changed (adaptive mode, or `maxWorkers` set). */
  limit: { readonly limit: number; readonly previous: number };
  /** Nothing is queued, running or waiting to retry. */
  idle: undefined;
  /** The fleet coordinator could not be reached (`available: false`, with the `error`), or can again. */
  coordinator: { readonly available: boolean; readonly error?: string };
}

/** The name of an event a dispatcher emits: `start`, `settle`, `retry`, `pause`, `resume`, `limit`, `idle`. */
export type EventName = keyof DispatcherEvents;
/** A listener of event `K`, given its typed payload. */
export type Listener<K extends EventName> = (payload: DispatcherEvents[K]) => void;

/** What a `start` or `settle` event concerns, for duta's own instrumentation (`duta/otel`), never for users. */
export interface EventSubject {
  readonly priority: number;
  readonly key: string;
  /** When the attempt was queued (`now()`), or -Infinity when nobody was listening then. */
  readonly queuedAt: number;
  /** The usage the attempt reported, if any. */
  readonly usage: { readonly totalTokens: number } | undefined;
}

/** The dispatcher's method for duta's own instrumentation: a symbol, so it is not part of the API. */
// Symbol.for, so the ESM and the CommonJS builds of duta/otel and duta (mixed in one app) agree on it.
export const INSTRUMENT = Symbol.for('duta.instrument');

/** A dispatcher's switch, for `duta/otel`: each `submit` captures its caller's async context. */
export const SUBMIT_CONTEXT = Symbol.for('duta.submitContext');

/** A listener that also hears the subject of the event. */
export type InternalListener<K extends EventName> = (payload: DispatcherEvents[K], subject: EventSubject | undefined) => void;

const names: readonly EventName[] = ['start', 'settle', 'retry', 'pause', 'resume', 'limit', 'idle', 'coordinator'];

/** Listeners by event name. Only the dispatcher emits; a listener that throws is skipped over. */
export class Emitter {
  readonly #listeners = new Map<EventName, Set<InternalListener<never>>>(names.map((name) => [name, new Set()]));

  on<K extends EventName>(name: K, listener: Listener<K>): () => void {
    // Wrapped, so a user's listener hears the payload alone, and the same function added twice is two
    // subscriptions, each removed by its own call.
    if (typeof listener !== 'function') {
      throw new TypeError(`Expected \`listener\` to be a function, got ${typeof listener}`);
    }
    return this.listen(name, (payload) => listener(payload));
  }

  /** Like `on`, for duta's own instrumentation: the listener also hears the event's subject. */
  listen<K extends EventName>(name: K, listener: InternalListener<K>): () => void {
    const set = this.#listeners.get(name);
    if (set === undefined) {
      throw new TypeError(`Unknown event ${JSON.stringify(name)}: expected one of ${names.join(', ')}`);
    }
    if (typeof listener !== 'function') {
      throw new TypeError(`Expected \`listener\` to be a function, got ${typeof listener}`);
    }
    const entry: InternalListener<K> = (payload, subject) => listener(payload, subject);
    set.add(entry as InternalListener<never>);
    this.#count();
    return () => {
      set.delete(entry as InternalListener<never>);
      this.#count();
    };
  }

  /** Whether anyone hears `start` or `settle`: read on every task, so kept as plain fields. */
  starts = false;
  settles = false;

  #count(): void {
    this.starts = this.has('start');
    this.settles = this.has('settle');
  }

  /** True when someone listens: lets a hot path skip building a payload. */
  has(name: EventName): boolean {
    return (this.#listeners.get(name) as Set<unknown>).size !== 0;
  }

  emit<K extends EventName>(name: K, payload: DispatcherEvents[K], subject?: EventSubject): void {
    for (const listener of this.#listeners.get(name) as Set<InternalListener<K>>) {
      try {
        listener(payload, subject);
      } catch {
        // A listener's bug must not break the dispatch or the listeners after it.
      }
    }
  }
}
