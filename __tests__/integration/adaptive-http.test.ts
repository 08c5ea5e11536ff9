import { expect, test } from '@jest/globals';
import { measureGoodput } from '../../bench/goodput.mjs';
import { Dispatcher } from '../../src/index.js';
import { startMockLlm } from '../../src/testing/index.js';

// A loose sanity check of the benchmark's claim (BENCHMARKS.md has the measured figures): against a server
// capped at K concurrent requests, adaptive mode from maxWorkers 64 settles near K, keeps 429s rare after
// warm-up, and loses little goodput to a dispatcher told K exactly. Real time and sockets: bounds are loose.
test('adaptive concurrency settles near the server cap with few 429s and most of the goodput', async () => {
  const r = await measureGoodput({ Dispatcher, startMockLlm }, { k: 6, n: 300, latencyMs: 30, rounds: 1 });
  expect(r.exact.failed + r.adaptive.failed).toBe(0);
  expect(r.exact.rejectedAfterWarmup).toBe(0);
  expect(r.adaptive.limit).toBeGreaterThanOrEqual(4);
  expect(r.adaptive.limit).toBeLessThanOrEqual(8);
  // Loose on purpose: the full suite loads both cores, and a slower client sees more 429s at the cap. The
  // benchmark, run alone, is where the 5 % and 90 % claims are measured.
  expect(r.adaptive.rejectedAfterWarmup).toBeLessThanOrEqual(0.4);
  expect(r.ratio).toBeGreaterThanOrEqual(0.6);
}, 30_000);
