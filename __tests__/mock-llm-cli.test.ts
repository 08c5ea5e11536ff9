import { afterEach, describe, expect, test } from '@jest/globals';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

// A child left running by a failed expectation would keep Jest from exiting: each is killed and awaited.
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }
});

describe('duta-mock-llm', () => {
  test('starts the server from the command line, serves, and prints its stats on SIGINT', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'testing', 'cli.mts'), '--latency', '0', '--rpm', '1'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(cli);
    let output = '';
    cli.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', resolve));
    const started = performance.now();
    while (!output.includes('listening on') && performance.now() - started < 10_000) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const url = /listening on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(output)?.[1];
    expect(url).toBeDefined();
    const ask = () =>
      fetch(`${url}/chat/completions`, { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
    expect((await ask()).status).toBe(200);
    expect((await ask()).status).toBe(429);
    cli.kill('SIGINT');
    expect(await exited).toBe(0);
    const stats = JSON.parse(output.trim().split('\n').at(-1) ?? '{}') as { requests: number; byStatus: Record<string, number> };
    expect(stats).toMatchObject({ requests: 2, byStatus: { 200: 1, 429: 1 } });
  }, 20_000);

  test('rejects a bad flag value with the option named, and exits 2', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, '..', 'src', 'testing', 'cli.mts'), '--error-rate', '3'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(cli);
    let errors = '';
    cli.stderr.on('data', (chunk: Buffer) => {
      errors += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => cli.on('exit', resolve));
    expect(code).toBe(2);
    expect(errors).toContain('`errorRate`');
  }, 20_000);
});
