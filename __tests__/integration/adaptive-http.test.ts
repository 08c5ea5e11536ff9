import { expect, test } from '@jest/globals';
import { measureGoodput } from '../../bench/goodput.mjs';
import { Dispatcher } from '../../src/index.js';
import { startMockLlm } from '../../src/testing/index.js';

// Against a server capped at K concurrent requests, adaptive mode from maxWorkers 64 settles near K and
// every task still succeeds. Only what holds however loaded the machine is asserted, with wide slack: a
// slower client sees more 429s at the cap. The goodput against a dispatcher told K exactly (98 %) and the
// share of 429s after warm-up (5 %) are benchmark figures, measured alone by `npm run bench`.
test('adaptive concurrency settles near the server cap, and every task succeeds through the 429s', async () => {
  const r = await measureGoodput({ Dispatcher, startMockLlm }, { k: 6, n: 300, latencyMs: 30, rounds: 1 });
  expect(r.exact.failed + r.adaptive.failed).toBe(0);
  // Told K exactly, the client never has more in flight than the server allows.
  expect(r.exact.rejectedAfterWarmup).toBe(0);
  expect(r.adaptive.limit).toBeGreaterThanOrEqual(4);
  expect(r.adaptive.limit).toBeLessThanOrEqual(8);
  // Far from a limit stuck at 64, where most requests would be turned away.
  expect(r.adaptive.rejectedAfterWarmup).toBeLessThanOrEqual(0.5);
}, 30_000);
