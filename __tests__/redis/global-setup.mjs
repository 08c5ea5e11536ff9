// Says once per test run, loudly, that the duta/redis tests are skipped for want of a redis-server.
import { execFileSync } from 'node:child_process';

export default function globalSetup() {
  try {
    execFileSync('redis-server', ['--version'], { stdio: 'ignore' });
  } catch {
    const required = process.env.DUTA_REQUIRE_REDIS === '1';
    const line = '!'.repeat(100);
    console.warn(
      `\n${line}\n!! redis-server is not on PATH: the duta/redis tests are ${required ? 'FAILING (DUTA_REQUIRE_REDIS=1)' : 'SKIPPED'}.\n` +
        '!! Install it: `apt install redis-server` (Debian, Ubuntu) or `brew install redis` (macOS), then run npm test again.\n' +
        `${line}\n`,
    );
  }
}
