import type { LatencyModel } from './options.js';
import { gaussian } from './random.js';

/** One latency draw, in ms: fixed, log-normal around `median` (σ of ln latency = `spread`), or uniform. */
export function drawLatency(model: LatencyModel, random: () => number): number {
  if (typeof model === 'number') {
    return model;
  }
  if ('median' in model) {
    return model.median * Math.exp(model.spread * gaussian(random));
  }
  return model.min + (model.max - model.min) * random();
}
