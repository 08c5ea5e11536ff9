import { describe, expect, test } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

describe('in a real process', () => {
  test('leftover work never keeps the process alive past its end, and no rejection goes unhandled', () => {
    const started = performance.now();
    const child = spawnSync(
      process.execPath,
      ['--unhandled-rejections=strict', '--import', 'tsx', join(import.meta.dirname, 'fixtures', 'exits-promptly.ts')],
      { encoding: 'utf8', timeout: 25_000 },
    );
    const elapsedMs = performance.now() - started;
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    // The default 30 s timeout must not hold the event loop: generous slack for tsx's start-up.
    expect(elapsedMs).toBeLessThan(15_000);
    expect(JSON.parse(child.stdout)).toEqual([
      ['cancelled', 'cancelled'],
      ['nowait-fails', 'failed'],
      ['ok', 'done'],
      ['rejects', 'failed'],
      ['rejects-undefined', 'failed'],
      ['throws', 'failed'],
      ['times-out', 'timeout'],
    ]);
  });
});
