/** @jest-config-loader esbuild-register */
import type { Config } from 'jest';
import { createDefaultEsmPreset } from 'ts-jest';

const config: Config = {
  ...createDefaultEsmPreset({ tsconfig: '__tests__/tsconfig.json' }),
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testTimeout: 10_000,
  // Says once, loudly, when the duta/redis tests are skipped for want of a redis-server.
  globalSetup: '<rootDir>/__tests__/redis/global-setup.mjs',
  // No forceExit: every test closes what it opens (servers, sockets, child processes, timers), so Jest
  // exits on its own, and a leak shows as Jest's "did not exit" or "failed to exit gracefully" warning.
  // That warning waits 3 s rather than 1: an ioredis client, even one closed by QUIT, keeps a timer of its
  // own for 2 s to destroy its socket should the server not close it, which is no leak of ours.
  openHandlesTimeout: 3_000,
};

export default config;
