/**
 * Submit here, look up anywhere, with real processes: each instance is a child process
 * (fixtures/records-instance.ts) with its own Redis connection and its own Dispatcher, whose
 * coordinator has the fleet's name; this process drives them over stdin and stdout, kills them, and
 * freezes the server. Every story runs twice: tasks owned by an ioredis instance and read by a
 * node-redis one, then the other way round. What Redis holds is read with a client of our own.
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { Redis } from 'ioredis';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { FleetKeys } from '../../src/redis/keys.js';
import { describeRedis, useRedisServer } from './server.js';

type Family = 'ioredis' | 'node-redis';

/** What an instance answers: a value, or the error its call threw (class, name and message). */
type Reply = { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: { class: string; name: string; message: string } };

type Work = { kind: 'value'; value: unknown } | { kind: 'gate' } | { kind: 'bigint' };

interface FleetOptions {
  readonly name: string;
  readonly maxWorkers?: number;
  readonly leaseMs?: number;
  readonly resultTtlMs?: number;
  readonly timeoutMs?: number;
  readonly onUnavailable?: 'wait' | 'local' | 'fail';
}

/** The fixture spells BigInt and undefined out, since JSON has neither: back to values. */
function fromWire(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(fromWire);
  }
  if (typeof value !== 'object' || value === null) {
    return value;
  }
  if ('$bigint' in value) {
    return BigInt((value as { $bigint: string }).$bigint);
  }
  if ('$undefined' in value) {
    return undefined;
  }
  return Object.fromEntries(Object.entries(value).map(([key, each]) => [key, fromWire(each)]));
}

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'records-instance.ts');

/** One instance of the fleet: a child process, asked over stdin, answering over stdout. */
class Instance {
  readonly #child: ChildProcess;
  readonly #replies = new Map<number, (reply: Reply) => void>();
  /** Ids whose attempt started here, in order. */
  readonly started: string[] = [];
  readonly #startWaiters = new Map<string, () => void>();
  #ready: () => void = () => {};
  #n = 0;

  private constructor(
    readonly family: Family,
    child: ChildProcess,
  ) {
    this.#child = child;
  }

  static async start(port: number, family: Family): Promise<Instance> {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, String(port), family], { stdio: ['pipe', 'pipe', 'inherit'] });
    // Should this process end without its afterAll, its instances end too.
    const orphaned = (): void => void child.kill('SIGKILL');
    process.once('exit', orphaned);
    child.once('exit', () => process.off('exit', orphaned));
    const instance = new Instance(family, child);
    Instance.all.add(instance);
    const ready = new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`the ${family} instance exited with ${code} before it was ready`)));
      instance.#ready = resolve;
    });
    createInterface({ input: child.stdout! }).on('line', (line) => instance.#heard(JSON.parse(line) as Record<string, unknown>));
    await ready;
    return instance;
  }

  #heard(message: Record<string, unknown>): void {
    if (message['event'] === 'ready') {
      this.#ready();
    } else if (message['event'] === 'started') {
      const id = String(message['id']);
      this.started.push(id);
      this.#startWaiters.get(id)?.();
    } else {
      const { n, ...reply } = message;
      this.#replies.get(Number(n))?.(fromWire(reply) as Reply);
      this.#replies.delete(Number(n));
    }
  }

  /** Sends one command; resolves with the instance's reply to it. */
  reply(cmd: string, fields: Record<string, unknown> = {}): Promise<Reply> {
    const n = ++this.#n;
    return new Promise((resolve) => {
      this.#replies.set(n, resolve);
      this.#child.stdin!.write(`${JSON.stringify({ n, cmd, ...fields })}\n`);
    });
  }

  /** Sends one command; resolves with its value, or rejects with the instance's error. */
  async call(cmd: string, fields: Record<string, unknown> = {}): Promise<unknown> {
    const reply = await this.reply(cmd, fields);
    if (!reply.ok) {
      throw new Error(`${this.family} instance, ${cmd}: ${reply.error.class}: ${reply.error.message}`);
    }
    return reply.value;
  }

  open(fleet: FleetOptions): Promise<unknown> {
    return this.call('open', { fleet });
  }

  submit(id: string, work: Work): Promise<unknown> {
    return this.call('submit', { id, work });
  }

  release(id: string, value: unknown): Promise<unknown> {
    return this.call('release', { id, value });
  }

  lookup(id: string): Promise<unknown> {
    return this.call('lookup', { id });
  }

  waitFor(id: string): Promise<unknown> {
    return this.call('waitFor', { id });
  }

  flush(): Promise<unknown> {
    return this.call('flush');
  }

  /** Resolves once an attempt of `id` has started here. */
  whenStarted(id: string): Promise<void> {
    return this.started.includes(id) ? Promise.resolve() : new Promise((resolve) => this.#startWaiters.set(id, resolve));
  }

  /** SIGKILL: no shutdown, nothing said to Redis. Resolves once the process is gone. */
  kill(): Promise<void> {
    const child = this.#child;
    Instance.all.delete(this);
    if (child.exitCode !== null || child.signalCode !== null) {
      return Promise.resolve();
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    return exited;
  }

  /** Closes its stdin, and kills it if it has not exited a second later. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      const late = setTimeout(() => child.kill('SIGKILL'), 1_000);
      await exited;
      clearTimeout(late);
    }
    Instance.all.delete(this);
  }

  static readonly all = new Set<Instance>();
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether a promise has settled yet, without waiting for it. */
function watch<T>(promise: Promise<T>): { readonly promise: Promise<T>; settled(): boolean } {
  let settled = false;
  void promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  return { promise, settled: () => settled };
}

const PAIRS: readonly [owner: Family, reader: Family][] = [
  ['ioredis', 'node-redis'],
  ['node-redis', 'ioredis'],
];

describeRedis('task records across processes', () => {
  const redis = useRedisServer();
  /** Our own look at what Redis holds. */
  let server: Redis;
  beforeAll(async () => {
    server = new Redis({ port: redis.server.port, host: '127.0.0.1' });
    await server.ping();
  });
  afterAll(async () => {
    redis.server.thaw();
    await Promise.all([...Instance.all].map((instance) => instance.stop()));
    server.disconnect();
  });

  let fleets = 0;
  /** A fresh fleet name per test, and the Redis key of one of its task records. */
  function newFleet(): { name: string; key(id: string): string } {
    const name = `jobs-${++fleets}`;
    const keys = new FleetKeys(name);
    return { name, key: (id) => keys.record(id) };
  }

  for (const [ownerFamily, readerFamily] of PAIRS) {
    describe(`submitted through ${ownerFamily}, read through ${readerFamily}`, () => {
      /** The owner (`a`) submits; the reader (`b`) looks up and waits. */
      let a: Instance;
      let b: Instance;
      /** An owner to be killed: started with the others, to spare the test its start. */
      let doomed: Instance;
      beforeAll(async () => {
        const { port } = redis.server;
        [a, b, doomed] = await Promise.all([Instance.start(port, ownerFamily), Instance.start(port, readerFamily), Instance.start(port, ownerFamily)]);
      }, 30_000);

      /** Both instances join a fresh fleet; `owner` options apply to `a`, `reader` ones to `b`. */
      async function joinFleet(owner: Omit<FleetOptions, 'name'> = {}, reader: Omit<FleetOptions, 'name'> = {}): Promise<ReturnType<typeof newFleet>> {
        const fleet = newFleet();
        await Promise.all([a.open({ name: fleet.name, ...owner }), b.open({ name: fleet.name, ...reader })]);
        return fleet;
      }

      test('a task is pending, then running, then done with its value, as another process sees it', async () => {
        const fleet = await joinFleet({ maxWorkers: 1 });
        await a.submit('blocker', { kind: 'gate' });
        await a.whenStarted('blocker');
        await a.submit('summary-1', { kind: 'gate' });
        await a.flush();
        expect(await b.lookup('summary-1')).toEqual({ taskId: 'summary-1', status: 'pending' });

        const waited = watch(b.waitFor('summary-1'));
        await a.release('blocker', null);
        await a.whenStarted('summary-1');
        // The record says running from the admission, which came before the start: no flush needed.
        expect(await b.lookup('summary-1')).toEqual({ taskId: 'summary-1', status: 'running' });
        expect(waited.settled()).toBe(false);

        await a.release('summary-1', { summary: 'short', words: 2 });
        const result = await waited.promise;
        expect(result).toMatchObject({ taskId: 'summary-1', success: true, status: 'done', result: { summary: 'short', words: 2 }, error: null, attempts: 1 });
        expect(await b.lookup('summary-1')).toEqual(result);
        expect(b.started).not.toContain('summary-1');
        expect(await server.hmget(fleet.key('summary-1'), 's', 'a')).toEqual(['done', '1']);
      }, 20_000);

      test('an id no process submitted is undefined to lookup and a TaskIdError to waitFor', async () => {
        const fleet = await joinFleet();
        expect(await b.lookup('never-submitted')).toBeUndefined();
        expect(await b.reply('waitFor', { id: 'never-submitted' })).toEqual({
          ok: false,
          error: { class: 'TaskIdError', name: 'TaskIdError', message: 'Task id "never-submitted" is unknown or evicted' },
        });
        // Looking costs nothing in Redis: no record is made for an id asked about.
        expect(await server.exists(fleet.key('never-submitted'))).toBe(0);
      }, 20_000);

      test('the tasks of a SIGKILLed owner, one mid-attempt and one not yet started, are lost to another process within leaseMs + 1 s', async () => {
        const LEASE_MS = 1_500;
        const fleet = newFleet();
        await Promise.all([doomed.open({ name: fleet.name, leaseMs: LEASE_MS, maxWorkers: 1 }), b.open({ name: fleet.name })]);
        await doomed.submit('mid-attempt', { kind: 'gate' });
        await doomed.whenStarted('mid-attempt');
        // The owner's last call to Redis (which keeps it alive leaseMs longer) comes after this.
        const lastCallAfter = performance.now();
        await doomed.submit('not-started', { kind: 'gate' });
        await doomed.flush();
        const waits = [watch(b.waitFor('mid-attempt')), watch(b.waitFor('not-started'))];

        await doomed.kill();
        const killedAt = performance.now();
        // At the kill the fleet cannot know yet: the owner's liveness runs until its lease does.
        expect(await b.lookup('mid-attempt')).toEqual({ taskId: 'mid-attempt', status: 'running' });
        expect(await b.lookup('not-started')).toEqual({ taskId: 'not-started', status: 'pending' });

        const [midAttempt, notStarted] = await Promise.all(waits.map((wait) => wait.promise));
        const seenLostAt = performance.now();
        // Never before the owner's liveness could have run out; within leaseMs + 1 s of the kill.
        expect(seenLostAt - lastCallAfter).toBeGreaterThanOrEqual(LEASE_MS - 5);
        expect(seenLostAt - killedAt).toBeLessThan(LEASE_MS + 1_000);
        const lost = (id: string, attempts: number) => ({
          taskId: id,
          success: false,
          status: 'lost',
          result: null,
          error: `task "${id}" was lost: the instance running it stopped before it ended (its lease ran out)`,
          attempts,
        });
        expect(midAttempt).toMatchObject(lost('mid-attempt', 1));
        expect(notStarted).toMatchObject(lost('not-started', 0));
        // Lost for good, for every later look.
        expect(await b.lookup('mid-attempt')).toMatchObject(lost('mid-attempt', 1));
        expect(await server.hget(fleet.key('not-started'), 's')).toBe('lost');
        expect(b.started).toEqual([]);
      }, 20_000);

      test('a duplicate id across processes: the second submit ends failed with a TaskIdError cause, and the first is untouched', async () => {
        const fleet = await joinFleet();
        await a.submit('invoice-7', { kind: 'gate' });
        await a.whenStarted('invoice-7');
        await a.flush();

        // Within one process a duplicate throws at once; across the fleet the submit is accepted, then fails.
        expect(await b.submit('invoice-7', { kind: 'value', value: 'from b' })).toBe('invoice-7');
        const second = await b.waitFor('invoice-7');
        const message = 'Task id "invoice-7" is already pending or running on another instance of the fleet';
        expect(second).toMatchObject({ taskId: 'invoice-7', success: false, status: 'failed', error: message, attempts: 0 });
        expect((second as { cause: unknown }).cause).toEqual({ class: 'TaskIdError', name: 'TaskIdError', message });
        expect(b.started).not.toContain('invoice-7');
        await b.flush();
        expect(await server.hmget(fleet.key('invoice-7'), 's', 'a', 'r')).toEqual(['running', '1', null]);

        await a.release('invoice-7', 'from a');
        expect(await a.waitFor('invoice-7')).toMatchObject({ status: 'done', result: 'from a', attempts: 1 });
        await a.flush();
        const shared = await server.hmget(fleet.key('invoice-7'), 's', 'r');
        expect(shared[0]).toBe('done');
        expect(JSON.parse(shared[1]!)).toMatchObject({ taskId: 'invoice-7', status: 'done', value: '"from a"' });
      }, 20_000);

      test('after flush() another process finds every accepted task at once, and after the next flush every result', async () => {
        const fleet = await joinFleet({ maxWorkers: 2 });
        const ids = Array.from({ length: 10 }, (_, i) => `doc-${i}`);
        for (const id of ids) {
          await a.submit(id, { kind: 'gate' });
        }
        await a.flush();
        const seen = (await Promise.all(ids.map((id) => b.lookup(id)))) as { taskId: string; status: string }[];
        expect(seen.map((record) => record.taskId)).toEqual(ids);
        for (const record of seen) {
          expect(['pending', 'running']).toContain(record.status);
        }
        expect(seen.filter((record) => record.status === 'running').length).toBeLessThanOrEqual(2);

        for (const id of ids) {
          await a.release(id, `summary of ${id}`);
        }
        await Promise.all(ids.map((id) => a.waitFor(id)));
        await a.flush();
        const ended = (await Promise.all(ids.map((id) => b.lookup(id)))) as { status: string; result: unknown }[];
        expect(ended.map(({ status, result }) => [status, result])).toEqual(ids.map((id) => ['done', `summary of ${id}`]));
        expect(await server.exists(...ids.map((id) => fleet.key(id)))).toBe(10);
      }, 20_000);

      test('a finished record expires resultTtlMs after it was written', async () => {
        const TTL_MS = 1_000;
        const fleet = await joinFleet({ resultTtlMs: TTL_MS });
        // The record is written after the submit is sent and before the flush answers.
        const sentAt = performance.now();
        await a.submit('short-lived', { kind: 'value', value: 42 });
        await a.waitFor('short-lived');
        await a.flush();
        const flushedAt = performance.now();
        expect(await b.lookup('short-lived')).toMatchObject({ status: 'done', result: 42 });
        const ttl = await server.pttl(fleet.key('short-lived'));
        expect(ttl).toBeGreaterThan(0);
        expect(ttl).toBeLessThanOrEqual(TTL_MS);

        let goneAt = 0;
        while (goneAt === 0) {
          await sleep(50);
          if ((await b.lookup('short-lived')) === undefined) {
            goneAt = performance.now();
          }
        }
        // Redis expires keys by its own clock, exactly; the polling and the pipes add a little after.
        expect(goneAt - sentAt).toBeGreaterThanOrEqual(TTL_MS - 5);
        expect(goneAt - flushedAt).toBeLessThan(TTL_MS + 1_000);
        expect(await server.exists(fleet.key('short-lived'))).toBe(0);
      }, 20_000);

      test("a BigInt result: the owner's result keeps the value, the shared record says why it was not stored", async () => {
        await joinFleet();
        await a.submit('big', { kind: 'bigint' });
        expect(await a.waitFor('big')).toMatchObject({ success: true, status: 'done', result: 10n ** 20n });
        await a.flush();
        const remote = (await b.lookup('big')) as Record<string, unknown>;
        expect(remote).toMatchObject({ taskId: 'big', success: true, status: 'done', error: null, attempts: 1 });
        expect('result' in remote && remote['result'] === undefined).toBe(true);
        expect(remote['unstored']).toMatch(/^the result could not be stored: .*BigInt/);
        expect(await b.waitFor('big')).toEqual(remote);
      }, 20_000);

      test('results of tasks that end while Redis is frozen are written once it thaws, and waits elsewhere receive them', async () => {
        // A lease far longer than the freeze: the owner is not taken for dead meanwhile.
        const options = { leaseMs: 10_000, timeoutMs: 300 };
        const fleet = await joinFleet(options, options);
        const ids = ['outage-1', 'outage-2', 'outage-3'];
        for (const id of ids) {
          await a.submit(id, { kind: 'gate' });
          await a.whenStarted(id);
        }
        await a.flush();
        const waits = ids.map((id) => watch(b.waitFor(id)));
        // The reader's waits have read the records once (its lookups go on one connection, in order):
        // they are polling when the outage starts.
        expect(await b.lookup('outage-3')).toEqual({ taskId: 'outage-3', status: 'running' });

        redis.server.freeze();
        try {
          for (const id of ids) {
            await a.release(id, `written after the outage: ${id}`);
          }
          // The owner has its results; the fleet cannot have them, and flush says so within its time limit.
          for (const id of ids) {
            expect(await a.waitFor(id)).toMatchObject({ status: 'done', result: `written after the outage: ${id}` });
          }
          const flushed = await a.reply('flush');
          expect(flushed.ok).toBe(false);
          expect(flushed.ok ? undefined : flushed.error).toMatchObject({ class: 'RedisUnavailableError', message: expect.stringMatching(/^Redis is unavailable/) });
          expect(waits.some((wait) => wait.settled())).toBe(false);
        } finally {
          redis.server.thaw();
        }
        const thawedAt = performance.now();

        // Nobody calls flush on the owner again: it writes them by itself once Redis answers.
        const results = await Promise.all(waits.map((wait) => wait.promise));
        expect(performance.now() - thawedAt).toBeLessThan(8_000);
        expect(results).toEqual(ids.map((id) => expect.objectContaining({ taskId: id, status: 'done', result: `written after the outage: ${id}` })));
        expect(await Promise.all(ids.map((id) => server.hget(fleet.key(id), 's')))).toEqual(['done', 'done', 'done']);
      }, 30_000);

      test('a dispatch batch is not recorded; a dispatchNowait one is', async () => {
        const fleet = await joinFleet();
        const batch = (await a.call('dispatch', { ids: ['batch-1', 'batch-2'], work: { kind: 'value', value: 'mine' } })) as unknown[];
        expect(batch).toEqual([expect.objectContaining({ status: 'done' }), expect.objectContaining({ status: 'done' })]);
        await a.call('dispatchNowait', { ids: ['nowait-1'], work: { kind: 'value', value: 'shared' } });
        await a.flush();
        expect(await b.lookup('batch-1')).toBeUndefined();
        expect(await b.lookup('nowait-1')).toMatchObject({ status: 'done', result: 'shared' });
        expect(await server.exists(fleet.key('batch-1'), fleet.key('batch-2'))).toBe(0);
      }, 20_000);
    });
  }
});
