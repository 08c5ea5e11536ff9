// Packs the package, installs the tarball in a scratch app as a user would, and runs it from ESM and
// CommonJS: the checks publint and attw cannot make (a broken CommonJS build passes both).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const app = mkdtempSync(join(tmpdir(), 'duta-smoke-'));
const run = (command, args, cwd = app) => execFileSync(command, args, { cwd, encoding: 'utf8', stdio: 'pipe' });

const program = (load) => `
${load}
const sleep = (ms, value) => new Promise((resolve) => setTimeout(resolve, ms, value));
const failures = [];
const check = (ok, what) => { if (!ok) failures.push(what); };
const d = new Dispatcher({ maxWorkers: 2, timeoutMs: 50 });
const results = await d.dispatch([
  new Task({ id: 'ok', func: (x) => sleep(5, x * 2), args: [21] }),
  { id: 'fails', func: async () => { throw new Error('boom'); } },
  { id: 'slow', func: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason))) },
]);
check(results.map((r) => r.status).join() === 'done,failed,timeout', 'statuses: ' + results.map((r) => r.status));
check(results[0].result === 42, 'result');
check(results[2].error === 'task "slow" timed out after 50 ms', 'timeout message');
d.submit({ id: 'bg', func: () => 'later' });
check((await d.waitFor('bg')).result === 'later', 'waitFor');
await d.shutdown();
try { d.submit({ id: 'x', func: () => 1 }); failures.push('submit after shutdown'); } catch (e) { check(e instanceof ShutdownError, 'ShutdownError'); }
const double = dispatchParallel({ maxWorkers: 3 })(async function double(n) { return n * 2; });
check(JSON.stringify(await double([1, 2, 3])) === '[2,4,6]', 'dispatchParallel');
check(double.name === 'double', 'name kept');
const boom = dispatchParallel()(async function fails(n) { if (n === 1) throw new Error('one'); return n; });
try { await boom([0, 1]); failures.push('fail fast'); } catch (e) { check(e instanceof TaskFailedError && e.index === 1, 'TaskFailedError'); }
check(typeof TaskIdError === 'function', 'TaskIdError exported');
if (typeof require === 'undefined') {
  // An app that loads both builds: a Task made by the CommonJS copy is still tracked by the ESM one.
  const { createRequire } = await import('node:module');
  const { Task: OtherTask } = createRequire(process.cwd() + '/')('duta');
  check(OtherTask !== Task, 'two copies loaded');
  const foreign = new OtherTask({ id: 'foreign', func: () => 'tracked' });
  await new Dispatcher().dispatch([foreign]);
  check(foreign.status === 'done' && foreign.result === 'tracked', 'a Task from the other build is tracked');
}
if (failures.length > 0) { console.error('smoke failures:', failures); process.exit(1); }
console.log('ok');
`;

try {
  const tarball = run('npm', ['pack', '--silent', '--pack-destination', app], root).trim().split('\n').pop();
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'duta-smoke', private: true }));
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(app, tarball)]);
  const names = '{ Dispatcher, Task, dispatchParallel, ShutdownError, TaskFailedError, TaskIdError }';
  writeFileSync(join(app, 'esm.mjs'), program(`import ${names} from 'duta';`));
  writeFileSync(join(app, 'cjs.cjs'), `(async () => {${program(`const ${names} = require('duta');`)}})();`);
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const out = run(process.execPath, [file]).trim();
    console.log(`smoke ${file}: ${out}`);
  }
  // duta/testing from both module systems, and its CLI through the package's bin.
  writeFileSync(join(app, 'testing.mjs'), `import { startMockLlm } from 'duta/testing';
const server = await startMockLlm({ latencyMs: 0 });
const res = await fetch(server.url + '/chat/completions', { method: 'POST', body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }) });
const ok = res.status === 200 && server.stats().requests === 1;
await server.close();
console.log(ok ? 'ok' : 'failed');
process.exit(ok ? 0 : 1);
`);
  writeFileSync(join(app, 'testing.cjs'), `const { startMockLlm } = require('duta/testing');
startMockLlm({ latencyMs: 0 }).then(async (server) => { await server.close(); console.log(typeof server.url === 'string' ? 'ok' : 'failed'); });
`);
  for (const file of ['testing.mjs', 'testing.cjs']) {
    console.log(`smoke ${file}: ${run(process.execPath, [file]).trim()}`);
  }
  // duta/clients from both module systems: the stream helpers read a stream shaped as the AI SDK's.
  const clients = (load) => `${load}
const parts = async function* (last) { yield { type: 'text-delta', text: 'he' }; yield { type: 'text-delta', text: 'llo' }; yield last; };
const check = async () => {
  const { text, usage } = await readAiSdkStream({ fullStream: parts({ type: 'finish', totalUsage: { totalTokens: 3 } }) });
  const failed = await readAiSdkStream({ fullStream: parts({ type: 'error', error: { message: 'x', type: 'server_error' } }) }).catch((e) => e);
  return text === 'hello' && usage.totalTokens === 3 && failed instanceof StreamError && failed.type === 'server_error' && typeof readAnthropicStream === 'function';
};
check().then((ok) => { console.log(ok ? 'ok' : 'failed'); process.exitCode = ok ? 0 : 1; });
`;
  const clientNames = '{ readAiSdkStream, readAnthropicStream, StreamError }';
  writeFileSync(join(app, 'clients.mjs'), clients(`import ${clientNames} from 'duta/clients';`));
  writeFileSync(join(app, 'clients.cjs'), clients(`const ${clientNames} = require('duta/clients');`));
  for (const file of ['clients.mjs', 'clients.cjs']) {
    console.log(`smoke ${file}: ${run(process.execPath, [file]).trim()}`);
  }
  const help = run(join(app, 'node_modules', '.bin', 'duta-mock-llm'), ['--help']);
  if (!help.startsWith('Usage: duta-mock-llm')) {
    throw new Error(`duta-mock-llm --help printed: ${help}`);
  }
  console.log('smoke bin: duta-mock-llm --help ok');
  // duta/otel: the main entry ran above without @opentelemetry/api installed; now with it, from both systems.
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', '@opentelemetry/api@1']);
  const otel = (load) => `${load}
const d = new Dispatcher();
const stop = instrument(d);
d.dispatch([{ id: 'a', func: () => 1 }]).then((results) => { stop(); console.log(results[0].success ? 'ok' : 'failed'); });
`;
  writeFileSync(join(app, 'otel.mjs'), otel(`import { Dispatcher } from 'duta';\nimport { instrument } from 'duta/otel';`));
  writeFileSync(join(app, 'otel.cjs'), otel(`const { Dispatcher } = require('duta');\nconst { instrument } = require('duta/otel');`));
  // An app mixing the builds: a Dispatcher from the ESM build, instrument from the CommonJS one.
  writeFileSync(join(app, 'otel-mixed.mjs'), otel(`import { createRequire } from 'node:module';\nimport { Dispatcher } from 'duta';\nconst { instrument } = createRequire(import.meta.url)('duta/otel');`));
  for (const file of ['otel.mjs', 'otel.cjs', 'otel-mixed.mjs']) {
    console.log(`smoke ${file}: ${run(process.execPath, [file]).trim()}`);
  }
  // duta/redis loads without a Redis client installed (they are optional peers), from both systems and
  // mixed with the other build; a coordinator plugs into a Dispatcher (the tests run it on a real Redis).
  const redis = (load) => `${load}
const fake = { evalsha: async () => { throw new Error('no Redis here'); }, eval: async () => { throw new Error('no Redis here'); } };
const coordinator = redisCoordinator({ client: fake, name: 'smoke', maxWorkers: 4, onUnavailable: 'fail', timeoutMs: 100 });
const d = new Dispatcher({ coordinator });
d.dispatch([{ id: 'a', func: () => 1 }]).then((results) => console.log(results[0].status === 'failed' && /Redis is unavailable/.test(results[0].error) ? 'ok' : 'unexpected ' + JSON.stringify(results)));
`;
  writeFileSync(join(app, 'redis.mjs'), redis(`import { Dispatcher } from 'duta';\nimport { redisCoordinator } from 'duta/redis';`));
  writeFileSync(join(app, 'redis.cjs'), redis(`const { Dispatcher } = require('duta');\nconst { redisCoordinator } = require('duta/redis');`));
  writeFileSync(join(app, 'redis-mixed.mjs'), redis(`import { createRequire } from 'node:module';\nimport { Dispatcher } from 'duta';\nconst { redisCoordinator } = createRequire(import.meta.url)('duta/redis');`));
  for (const file of ['redis.mjs', 'redis.cjs', 'redis-mixed.mjs']) {
    const out = run(process.execPath, [file]).trim();
    if (out !== 'ok') {
      throw new Error(`smoke ${file}: ${out}`);
    }
    console.log(`smoke ${file}: ${out}`);
  }
  // The shipped declarations, as a TypeScript user compiles against them, from ESM and from CommonJS.
  const consumer = `
import { Dispatcher, dispatchParallel, type DispatchResult, type TaskContext } from 'duta';
import { startMockLlm, type MockLlmStats } from 'duta/testing';
import { instrument } from 'duta/otel';
import { readAiSdkStream, type StreamedText } from 'duta/clients';
import { redisCoordinator, type RedisCoordinatorOptions } from 'duta/redis';
export const fleet = (options: RedisCoordinatorOptions) => new Dispatcher({ coordinator: redisCoordinator(options) });
export const read: Promise<StreamedText<{ totalTokens: number }>> = readAiSdkStream({ fullStream: (async function* () { yield { type: 'finish', totalUsage: { totalTokens: 1 } }; })() });
export const stopTracing: () => void = instrument(new Dispatcher());
export async function witness(): Promise<MockLlmStats> { const server = await startMockLlm({ latencyMs: { median: 100, spread: 0.3 } }); await server.close(); return server.stats(); }
const d = new Dispatcher({ maxWorkers: 2 });
async function summarise(doc: string, ctx: TaskContext): Promise<{ text: string }> { return { text: doc + ctx.taskId }; }
export async function check(): Promise<string[]> {
  const results = await d.dispatch(['a', 'b'].map((doc, i) => ({ id: String(i), func: summarise, args: [doc] })));
  const typed: DispatchResult<{ text: string }>[] = results;
  const double = dispatchParallel()(async (n: number) => n * 2);
  const numbers: number[] = await double([1, 2]);
  void numbers;
  return typed.map((r) => (r.success ? r.result.text : r.error));
}
`;
  writeFileSync(join(app, 'consumer.mts'), consumer);
  writeFileSync(join(app, 'consumer.cts'), consumer);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  run(process.execPath, [tsc, '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--lib', 'es2022,dom', 'consumer.mts', 'consumer.cts']);
  console.log('smoke types: consumer.mts and consumer.cts compile');
} finally {
  rmSync(app, { recursive: true, force: true });
}
