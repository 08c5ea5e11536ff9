// Runs time faster: performance.now, Date.now and setTimeout as seen by everything in this process
// (duta and the mock server alike) move `factor` times faster than the wall clock, so a run of several
// one-minute rate-limit windows takes seconds. Both sides read the same clock, so the limits still meet.
export function scaleTime(factor) {
  const realNow = performance.now;
  const realDateNow = Date.now;
  const realSetTimeout = globalThis.setTimeout;
  const t0 = realNow.call(performance);
  const d0 = realDateNow();
  performance.now = () => t0 + (realNow.call(performance) - t0) * factor;
  Date.now = () => d0 + (realDateNow() - d0) * factor;
  globalThis.setTimeout = (callback, ms = 0, ...args) => realSetTimeout(callback, ms / factor, ...args);
  return () => {
    performance.now = realNow;
    Date.now = realDateNow;
    globalThis.setTimeout = realSetTimeout;
  };
}
