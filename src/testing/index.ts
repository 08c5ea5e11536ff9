export { startMockLlm } from './server.js';
export type { MockLlm, MockLlmStats } from './server.js';
export type { FailFirst, LatencyModel, MockLlmOptions } from './options.js';
