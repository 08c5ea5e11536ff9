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
  // No forceExit: every test closes what it opens (servers, sockets, child processes, timers), so Jest
  // exits on its own, and a leak shows as Jest's "did not exit" or "failed to exit gracefully" warning.
};

export default config;
