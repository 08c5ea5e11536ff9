/**
 * Seeded randomness for the mock server. Each request draws from its own stream, keyed by its arrival
 * index, so a seeded run gives every request the same fate however the requests interleave.
 */

/** A 32-bit integer hash (splitmix32's finaliser), to spread nearby seeds and indices apart. */
function mix(value: number): number {
  let z = (value + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** A uniform stream in [0, 1) for request number `index` under `seed` (mulberry32). */
export function randomStream(seed: number, index: number): () => number {
  let state = mix(mix(seed) ^ mix(index + 1));
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box–Muller). */
export function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
