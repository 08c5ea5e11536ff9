import Queue from 'yocto-queue';

/**
 * Highest priority first; equal priorities in insertion order. Items of one priority share a FIFO
 * bucket (yocto-queue, already p-limit's own queue), and a small max-heap orders the distinct
 * priorities present, so the usual case (a handful of priorities) costs O(1) per operation and many
 * distinct priorities cost O(log P).
 */
export class PriorityQueue<T extends { readonly priority: number }> {
  readonly #buckets = new Map<number, Queue<T>>();
  /** Distinct priorities that have a bucket, as a binary max-heap. */
  readonly #heap: number[] = [];
  push(item: T): void {
    let bucket = this.#buckets.get(item.priority);
    if (bucket === undefined) {
      bucket = new Queue<T>();
      this.#buckets.set(item.priority, bucket);
      this.#heapPush(item.priority);
    }
    bucket.enqueue(item);
  }

  shift(): T | undefined {
    if (this.#heap.length === 0) {
      return undefined;
    }
    const top = this.#heap[0] as number;
    const bucket = this.#buckets.get(top) as Queue<T>;
    const item = bucket.dequeue() as T;
    if (bucket.size === 0) {
      this.#buckets.delete(top);
      this.#heapPop();
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
