import type { DispatchResult } from './result.js';

/**
 * Finished results by task id, holding at most `capacity`, oldest evicted first in O(1).
 *
 * The oldest entry is read from one long-lived iterator rather than a fresh `keys().next()`, which
 * walks over every deleted entry until V8 rehashes the table (O(n) on a Map trimmed constantly).
 * Every entry behind the iterator has been evicted, and a re-added id goes to the end, so the
 * iterator's next entry is always the oldest one alive.
 */
export class ResultStore extends Map<string, DispatchResult> {
  readonly #oldest = this.keys();

  constructor(private readonly capacity: number) {
    super();
  }

  /** Adds a result whose id is not in the store (a resubmitted id's old result was deleted then). */
  add(result: DispatchResult): void {
    this.set(result.taskId, result);
    while (this.size > this.capacity) {
      this.delete(this.#oldest.next().value as string);
    }
  }
}
