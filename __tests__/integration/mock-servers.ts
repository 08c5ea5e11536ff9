import { afterAll, afterEach, beforeAll, expect } from '@jest/globals';
import { type MockLlm, type MockLlmOptions, startMockLlm } from '../../src/testing/index.js';

/**
 * For a test file whose tests each start their own mock server over real sockets: registers hooks that
 * close each test's servers after it (checking no connection is left open) and, at the end, that no
 * rejection went unhandled. Returns the function that starts a server for the test.
 */
export function useMockServers(): (options: MockLlmOptions) => Promise<MockLlm> {
  const servers: MockLlm[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  beforeAll(() => {
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(async () => {
    // Give any late rejection a turn to surface before checking that none went unhandled.
    await new Promise((resolve) => setTimeout(resolve, 50));
    process.off('unhandledRejection', onUnhandled);
    expect(unhandled).toEqual([]);
  });
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      await server.close();
      expect(server.stats().connections).toBe(0);
    }
  });
  return async (options) => {
    const server = await startMockLlm(options);
    servers.push(server);
    return server;
  };
}
