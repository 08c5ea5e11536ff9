import { afterAll, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// The README is read from the package tarball too, so its code must run and its links must resolve there.
const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'duta-readme-'));
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The first ```ts block after the heading `heading`. */
function codeAfter(heading: string): string {
  const at = readme.indexOf(`\n${heading}\n`);
  expect(at).toBeGreaterThanOrEqual(0);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  expect(block).not.toBeNull();
  return block?.[1] ?? '';
}

/** A heading's anchor as GitHub and npm make it: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string): string =>
  heading
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');

describe('the README', () => {
  test('its quick start is examples/quickstart.ts, so the type-check compiles it', () => {
    expect(codeAfter('## Quick start')).toBe(readFileSync(join(root, 'examples', 'quickstart.ts'), 'utf8'));
  });

  test('its quick start runs as pasted against the mock server: every document summarised, a failed call retried', async () => {
    // Pasted into a file of its own, with `duta` and `duta/testing` resolved to the sources.
    const code = codeAfter('## Quick start')
      .replace("from 'duta'", `from ${JSON.stringify(join(root, 'src', 'index.ts'))}`)
      .replace("from 'duta/testing'", `from ${JSON.stringify(join(root, 'src', 'testing', 'index.ts'))}`);
    const file = join(scratch, 'quickstart.mts');
    writeFileSync(file, code);
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exitCode = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(exitCode).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines).toHaveLength(5);
    for (const line of lines) {
      expect(line).toMatch(/^doc-\d \(attempts: \d\): \S/);
    }
    // The mock server fails one call in five, seeded: one document needs a second attempt.
    expect(lines.some((line) => !line.includes('(attempts: 1)'))).toBe(true);
  }, 30_000);

  test('every link works from the package tarball: anchors of its own headings, web pages, or files the package ships', () => {
    const packed = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files;
    const anchors = new Set([...readme.matchAll(/^#+ (.+)$/gm)].map(([, heading]) => slug(heading ?? '')));
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map(([, target]) => target ?? '');
    expect(links.length).toBeGreaterThan(20);
    const broken = links.filter((target) =>
      target.startsWith('#')
        ? !anchors.has(target.slice(1))
        : !/^https:\/\//.test(target) && !packed.some((shipped) => target === shipped || target.startsWith(`${shipped}/`)),
    );
    expect(broken).toEqual([]);
  });
});
