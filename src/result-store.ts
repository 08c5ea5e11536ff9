import type { DispatchResult } from './result.js';

/**
 * Finished results by task id, holding at most `capacity`, oldest evicted first.
 *
 * Results are appended to a list as tasks finish and folded into the map only when someone reads it:
 * a batch whose results are returned to its caller and never looked up costs an array slot a task, not
 * a map entry and an eviction. The list never holds more than twice the capacity: past that, its oldest
 * half and the whole map would be evicted at the next fold anyway, and are dropped at once.
 *
 * The oldest entry is read from one long-lived iterator rather than a fresh `keys().next()`, which
 * walks over every deleted entry until V8 rehashes the table (O(n) on a map trimmed constantly).
 */
export class ResultStore extends Map<string, DispatchResult> {
  #oldest: MapIterator<string>;
  /** Results not folded in yet, oldest first. */
  #pending: DispatchResult[] = [];

  constructor(
    private readonly capacity: number,
    /** Whether a task with this id is unfinished now: its earlier result is then no longer its result. */
    private readonly unfinished: (id: string) => boolean,
  ) {
    super();
    this.#oldest = super.keys();
  }

  /** Adds a finished task's result. */
  add(result: DispatchResult): void {
    const pending = this.#pending;
    pending.push(result);
    if (pending.length >= 2 * this.capacity) {
      this.#pending = pending.slice(pending.length - this.capacity);
      super.clear();
      this.#oldest = super.keys();
    }
  }

  /** A task with this id was accepted again: its old result goes, until the new one comes. */
  forget(id: string): void {
    if (super.size !== 0) {
      super.delete(id);
    }
  }

  #fold(): void {
    const pending = this.#pending;
    if (pending.length === 0) {
      return;
    }
    this.#pending = [];
    for (const result of pending) {
      const id = result.taskId;
      if (this.unfinished(id)) {
        continue;
      }
      // A repeated id moves to the end, as the newest.
      super.delete(id);
      super.set(id, result);
      while (super.size > this.capacity) {
        super.delete(this.#oldest.next().value as string);
      }
    }
  }

  override get size(): number {
    this.#fold();
    return super.size;
  }

  override get(id: string): DispatchResult | undefined {
    this.#fold();
    return super.get(id);
  }

  override has(id: string): boolean {
    this.#fold();
    return super.has(id);
  }

  override keys(): MapIterator<string> {
    this.#fold();
    return super.keys();
  }

  override values(): MapIterator<DispatchResult> {
    this.#fold();
    return super.values();
  }

  override entries(): MapIterator<[string, DispatchResult]> {
    this.#fold();
    return super.entries();
  }

  override [Symbol.iterator](): MapIterator<[string, DispatchResult]> {
    return this.entries();
  }

  override forEach(callback: (value: DispatchResult, key: string, map: Map<string, DispatchResult>) => void, thisArg?: unknown): void {
    this.#fold();
    super.forEach(callback, thisArg);
  }
}
