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
  // Leaks are caught by tests that count timers and run a real process; a leak must not also hang CI.
  forceExit: true,
};

export default config;
