// What each feature costs per task when switched on: duta's dispatch (and submit) at N tasks, C = 16,
// with one feature at a time, against raw p-limit and the bare dispatcher in the same interleaved rounds.
import pLimit from 'p-limit';
import { Dispatcher } from '../dist/esm/index.js';
import { trivial } from './libraries.mjs';

const dispatchWith = (options, setup = () => {}) => (ids, c) => {
  const d = new Dispatcher({ maxWorkers: c, timeoutMs: Infinity, ...options });
  setup(d);
  return d.dispatch(ids.map((id) => ({ id, func: trivial })));
};

const submitWith = (options) => (ids, c) => {
  const d = new Dispatcher({ maxWorkers: c, timeoutMs: Infinity, ...options });
  for (const id of ids) {
    d.submit({ id, func: trivial });
  }
  return Promise.all(ids.map((id) => d.waitFor(id)));
};

/** Each row: a label and the run; the first two are the references. */
export const features = {
  'p-limit': (ids, c) => {
    const limit = pLimit(c);
    return Promise.all(ids.map(() => limit(trivial)));
  },
  'dispatch, nothing on': dispatchWith({}),
  '+ timeout (timeoutMs 30 s)': dispatchWith({ timeoutMs: 30_000 }),
  '+ retry (retries 2, none needed)': dispatchWith({ retry: { retries: 2 } }),
  '+ rate limit (never binding)': dispatchWith({ rateLimit: { requestsPerSecond: 1e12, tokensPerMinute: 1e15 } }),
  '+ budget (never reached)': dispatchWith({ budget: { tokens: 1e15, requests: 1e15 } }),
  '+ a settle listener': dispatchWith({}, (d) => d.on('settle', () => {})),
  'submit + waitFor': submitWith({}),
  '+ async context per submit': submitWith({ submitContext: true }),
};

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const shuffle = (items) => items.map((item) => [Math.random(), item]).sort((a, b) => a[0] - b[0]).map(([, item]) => item);

/** ns per task of each row, median of `rounds`, rows in a fresh random order each round. */
export async function measureFeatures({ n = 1e5, c = 16, rounds = 5 } = {}) {
  const ids = Array.from({ length: n }, (_, i) => `f${i}`);
  const samples = Object.fromEntries(Object.keys(features).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of shuffle(Object.keys(features))) {
      globalThis.gc?.();
      const started = performance.now();
      await features[name](ids, c);
      samples[name].push(((performance.now() - started) * 1e6) / n);
    }
  }
  return Object.fromEntries(Object.entries(samples).map(([name, values]) => [name, median(values)]));
}
