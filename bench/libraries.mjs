// The contenders of the overhead and memory benchmarks, each as "run these N items at concurrency C".
import async from 'async';
import Bottleneck from 'bottleneck';
import pLimit from 'p-limit';
import pMap from 'p-map';
import PQueue from 'p-queue';
import { Dispatcher } from '../dist/esm/index.js';

/** The trivial task: one microtask hop and one macrotask hop, so the scheduler's own cost dominates. */
export const trivial = async () => {
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
};

export const libraries = {
  'duta dispatch': (ids, c, fn = trivial) =>
    new Dispatcher({ maxWorkers: c, timeoutMs: Infinity }).dispatch(ids.map((id) => ({ id, func: fn }))),
  'duta submit+waitFor': (ids, c, fn = trivial) => {
    const d = new Dispatcher({ maxWorkers: c, timeoutMs: Infinity });
    for (const id of ids) {
      d.submit({ id, func: fn });
    }
    return Promise.all(ids.map((id) => d.waitFor(id)));
  },
  'p-limit': (ids, c, fn = trivial) => {
    const limit = pLimit(c);
    return Promise.all(ids.map(() => limit(fn)));
  },
  'p-queue': (ids, c, fn = trivial) => {
    const queue = new PQueue({ concurrency: c });
    return Promise.all(ids.map(() => queue.add(fn)));
  },
  'p-map': (ids, c, fn = trivial) => pMap(ids, () => fn(), { concurrency: c }),
  'async.mapLimit': (ids, c, fn = trivial) => async.mapLimit(ids, c, async () => fn()),
  bottleneck: (ids, c, fn = trivial) => {
    const limiter = new Bottleneck({ maxConcurrent: c });
    return Promise.all(ids.map(() => limiter.schedule(fn)));
  },
};
