import { describe, expect, test } from '@jest/globals';
import type { Admission, AdmissionQueue } from '../src/admission/admission.js';
import { ATTACH, type Coordinator, type CoordinatorHost } from '../src/admission/coordinator.js';
import type { Job } from '../src/core/job.js';
import { Dispatcher, type TaskContext } from '../src/index.js';
import { type Deferred, deferred, flush } from './helpers.js';

/**
 * A coordinator that answers like a remote one: each ask takes jobs from the queue, holds them until
 * the test answers, then admits the first `grant` of them and puts the rest back.
 */
class Remote implements Admission {
  readonly metered = true;
  readonly spent = undefined;
  readonly asks: { jobs: Job[]; answer: Deferred<number> }[] = [];
  readonly endings: [string, number | undefined][] = [];
  readonly droppedIds: string[] = [];
  #ready: Job[] = [];
  #asking: Promise<unknown> | null = null;

  constructor(readonly host: CoordinatorHost) {}

  next(queue: AdmissionQueue, free: number): Job | number | Promise<unknown> {
    const ready = this.#ready.shift();
    if (ready !== undefined) {
      return ready;
    }
    if (this.#asking !== null) {
      return this.#asking;
    }
    const jobs: Job[] = [];
    for (let job = queue.take(); typeof job !== 'number' && jobs.length < free; job = jobs.length < free ? queue.take() : Infinity) {
      jobs.push(job);
    }
    const answer = deferred<number>();
    this.asks.push({ jobs, answer });
    this.#asking = answer.promise.then((grant) => {
      this.#asking = null;
      for (const [i, job] of jobs.entries()) {
        if (i < grant) {
          this.#ready.push(job);
        } else {
          queue.unshift(job);
        }
      }
    });
    return this.#asking;
  }

  ended(job: Job, usage: { totalTokens: number } | undefined): void {
    this.endings.push([job.id, usage?.totalTokens]);
  }

  refuse(): undefined {
    return undefined;
  }

  dropped(job: Job): void {
    this.droppedIds.push(job.id);
  }
}

function remote(): { coordinator: Coordinator; admission: () => Remote } {
  let made: Remote | undefined;
  return {
    coordinator: {
      [ATTACH]: (host) => {
        made = new Remote(host);
        return made;
      },
    },
    admission: () => made as Remote,
  };
}

describe('the admission seam', () => {
  test('an admission that answers asynchronously starts nothing until it answers, then several jobs from one answer', async () => {
    const { coordinator, admission } = remote();
    const d = new Dispatcher({ maxWorkers: 3, coordinator });
    const started: string[] = [];
    const release = deferred();
    const func = async (ctx: TaskContext) => {
      started.push(ctx.taskId);
      await release.promise;
      ctx.reportUsage({ totalTokens: 7 });
      return ctx.taskId;
    };
    const results = d.dispatch(['a', 'b', 'c', 'd', 'e'].map((id) => ({ id, func })));
    await flush();
    expect(started).toEqual([]);
    // One ask, for as many jobs as there are free slots.
    const asked = () => admission().asks.map((ask) => ask.jobs.map((job) => job.id));
    expect(asked()).toEqual([['a', 'b', 'c']]);
    admission().asks[0]?.answer.resolve(2);
    await flush();
    expect(started).toEqual(['a', 'b']);
    // The one put back is asked about again, for the one slot left.
    expect(asked()).toEqual([['a', 'b', 'c'], ['c']]);
    admission().asks[1]?.answer.resolve(1);
    await flush();
    expect(started).toEqual(['a', 'b', 'c']);
    expect(d.activeCount).toBe(3);
    release.resolve();
    let finished = false;
    void results.then(() => {
      finished = true;
    });
    for (let round = 0; !finished && round < 20; round++) {
      await flush();
      for (const ask of admission().asks) {
        ask.answer.resolve(3);
      }
    }
    expect((await results).map((r) => r.status)).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(admission().endings).toEqual(['a', 'b', 'c', 'd', 'e'].map((id) => [id, 7]));
  });

  test('a job cancelled while its admission is on its way ends at once, and the admission hears it was dropped', async () => {
    const { coordinator, admission } = remote();
    const d = new Dispatcher({ maxWorkers: 2, coordinator });
    const controller = new AbortController();
    const results = d.dispatch([{ id: 'a', func: () => 1 }, { id: 'b', func: () => 2 }], { signal: controller.signal });
    await flush();
    controller.abort(new Error('not needed'));
    expect((await results).map((r) => [r.status, r.attempts])).toEqual([['cancelled', 0], ['cancelled', 0]]);
    expect(admission().droppedIds).toEqual(['a', 'b']);
    // The late answer admits jobs that are no longer queued: none of them starts.
    admission().asks[0]?.answer.resolve(2);
    await flush();
    expect(d.activeCount).toBe(0);
  });

  test('a coordinator option that is not one is a TypeError naming it', () => {
    expect(() => new Dispatcher({ coordinator: {} as never })).toThrow(
      new TypeError('Expected `coordinator` to be a coordinator (as `redisCoordinator()` of duta/redis makes), got an object (object)'),
    );
  });
});
