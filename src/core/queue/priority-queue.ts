/** An item that links into a queue itself, so queueing it allocates nothing. */
export interface Linked<T> {
  readonly priority: number;
  /** Order of first arrival: `unshift` puts an item back among the others by it. */
  readonly seq: number;
  next: T | null;
}

/** One priority's FIFO: a singly linked list through the items' own `next` field. */
interface Bucket<T> {
  head: T;
  tail: T;
}

/**
 * Highest priority first; equal priorities in insertion order. Items of one priority form a FIFO
 * linked through the items themselves, and a small max-heap orders the distinct priorities present,
 * so the usual case (a handful of priorities) costs O(1) per operation and no allocation, and many
 * distinct priorities cost O(log P).
 */
export class PriorityQueue<T extends Linked<T>> {
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Distinct priorities that have a bucket, as a binary max-heap. */
  readonly #heap: number[] = [];

  push(item: T): void {
    item.next = null;
    const bucket = this.#buckets.get(item.priority);
    if (bucket === undefined) {
      this.#buckets.set(item.priority, { head: item, tail: item });
      this.#heapPush(item.priority);
    } else {
      bucket.tail.next = item;
      bucket.tail = item;
    }
  }

  /**
   * Puts back an item that was queued before (a retry): ahead of every item that arrived after it, and
   * behind the ones put back that arrived before it. Only items put back can be ahead of it, so the
   * walk is short.
   */
  unshift(item: T): void {
    const bucket = this.#buckets.get(item.priority);
    if (bucket === undefined || bucket.head.seq > item.seq) {
      item.next = bucket?.head ?? null;
      if (bucket === undefined) {
        this.#buckets.set(item.priority, { head: item, tail: item });
        this.#heapPush(item.priority);
      } else {
        bucket.head = item;
      }
      return;
    }
    let before = bucket.head;
    while (before.next !== null && before.next.seq < item.seq) {
      before = before.next;
    }
    item.next = before.next;
    before.next = item;
    if (item.next === null) {
      bucket.tail = item;
    }
  }

  /** The item `shift` would return, left in place. */
  peek(): T | undefined {
    return this.#heap.length === 0 ? undefined : (this.#buckets.get(this.#heap[0] as number) as Bucket<T>).head;
  }

  shift(): T | undefined {
    if (this.#heap.length === 0) {
      return undefined;
    }
    const top = this.#heap[0] as number;
    const bucket = this.#buckets.get(top) as Bucket<T>;
    const item = bucket.head;
    if (item.next === null) {
      this.#buckets.delete(top);
      this.#heapPop();
    } else {
      bucket.head = item.next;
      item.next = null;
    }
    return item;
  }

  clear(): void {
    this.#buckets.clear();
    this.#heap.length = 0;
  }

  #heapPush(priority: number): void {
    const heap = this.#heap;
    let i = heap.push(priority) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as number) >= priority) {
        break;
      }
      heap[i] = heap[parent] as number;
      i = parent;
    }
    heap[i] = priority;
  }

  #heapPop(): void {
    const heap = this.#heap;
    const last = heap.pop() as number;
    if (heap.length === 0) {
      return;
    }
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) {
        break;
      }
      const right = left + 1;
      const child = right < heap.length && (heap[right] as number) > (heap[left] as number) ? right : left;
      if ((heap[child] as number) <= last) {
        break;
      }
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = last;
  }
}
