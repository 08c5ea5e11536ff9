/** The Lua scripts as shipped: generated from their files, and shaped by the rules every script keeps. */
import { describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as scripts from '../../src/redis/scripts.generated.js';

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'src', 'redis', 'scripts');
const generated = Object.values(scripts);

describe('the Lua scripts', () => {
  test('src/redis/scripts.generated.ts is what scripts/lua.mjs makes of the .lua files (run `npm run lua`)', () => {
    expect(() => execFileSync(process.execPath, [join(root, 'scripts', 'lua.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  test('one generated script per file, each named by the SHA1 of its source', () => {
    expect(generated.map((script) => script.name).sort()).toEqual(
      readdirSync(dir)
        .filter((file) => file.endsWith('.lua'))
        .map((file) => file.slice(0, -4))
        .sort(),
    );
    for (const script of generated) {
      expect(createHash('sha1').update(script.source).digest('hex')).toBe(script.sha1);
    }
  });

  test.each(generated.map((script) => [script.name, script.source] as const))('%s keeps the rules', (_, source) => {
    // Keys come from KEYS only (so Cluster can route the call): every command's key is KEYS[i], or a
    // variable holding one (named ...Key or key), never a string made inside the script.
    for (const call of source.matchAll(/(?:redis\.call|call_sliced)\('(\w+)'(?:,\s*([^,)]+))?/g)) {
      if (call[1] !== 'TIME') {
        expect([call[1], call[2]]).toEqual([call[1], expect.stringMatching(/^(KEYS\[\d\]|\w*[kK]ey)$/)]);
      }
    }
    // Only these commands: no client clock, nothing blocking, no pub/sub, nothing that scans keys.
    const commands = new Set([...source.matchAll(/(?:redis\.call|call_sliced)\('(\w+)'/g)].map((call) => call[1]));
    const allowed = ['TIME', 'GET', 'SET', 'DEL', 'PEXPIRE', 'HGET', 'HGETALL', 'HMGET', 'HSET', 'HDEL', 'HINCRBY', 'ZADD', 'ZREM', 'ZREMRANGEBYSCORE', 'ZRANGE', 'ZMSCORE', 'ZSCORE', 'ZCARD', 'ZCOUNT'];
    expect([...commands].filter((command) => !allowed.includes(command as string))).toEqual([]);
    // Time comes from Redis: a script that reads the clock calls TIME.
    expect(commands.has('TIME')).toBe(true);
  });

  test('the shipped sources leave out the comments, which stay in the files', () => {
    for (const script of generated) {
      expect(script.source).not.toMatch(/^\s*--/m);
      expect(readFileSync(join(dir, `${script.name}.lua`), 'utf8')).toMatch(/^-- /);
    }
  });
});
