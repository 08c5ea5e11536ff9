export { startMockLlm } from './server.js';
export type { MockLlm, MockLlmStats } from './server.js';
export type { LatencyModel, MockLlmOptions } from './options.js';
