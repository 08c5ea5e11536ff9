// Compile-time tests of the public types: `npm run typecheck` fails if an expectation or an
// `@ts-expect-error` (misuse that must not compile) does not hold. Nothing here runs.
import { expectTypeOf } from 'expect-type';
import {
  type DispatchResult,
  Dispatcher,
  type DispatcherOptions,
  dispatchParallel,
  Task,
  type TaskContext,
  TaskFailedError,
  type TaskArgs,
  type TaskInit,
  type TaskStatus,
} from '../src/index.js';

declare const d: Dispatcher;
declare function summarise(doc: string, ctx: TaskContext): Promise<{ text: string }>;
declare function add(a: number, b: number): number;

export async function narrowing(): Promise<void> {
  const [r] = await d.dispatch([{ id: 'a', func: summarise, args: ['doc'] }]);
  expectTypeOf(r).toEqualTypeOf<DispatchResult<{ text: string }>>();
  if (r.success) {
    expectTypeOf(r.result).toEqualTypeOf<{ text: string }>();
    expectTypeOf(r.error).toEqualTypeOf<null>();
    expectTypeOf(r.status).toEqualTypeOf<'done'>();
  } else {
    expectTypeOf(r.result).toEqualTypeOf<null>();
    expectTypeOf(r.error).toEqualTypeOf<string>();
    expectTypeOf(r.status).toEqualTypeOf<'failed' | 'timeout' | 'cancelled' | 'lost'>();
    expectTypeOf(r.cause).toEqualTypeOf<unknown>();
  }
  expectTypeOf(r.durationMs).toEqualTypeOf<number>();
}

export async function inferenceFromFunc(): Promise<void> {
  // A tuple of different tasks gives a tuple of results, each typed from its func.
  const results = await d.dispatch([
    new Task({ id: 'sum', func: add, args: [1, 2] }),
    { id: 'text', func: summarise, args: ['doc'] },
    { id: 'flag', func: async () => true },
  ]);
  expectTypeOf(results).toEqualTypeOf<[DispatchResult<number>, DispatchResult<{ text: string }>, DispatchResult<boolean>]>();

  // Tasks built with map: args from data are checked element by element.
  const docs = ['a', 'b'];
  const many = await d.dispatch(docs.map((doc, i) => ({ id: `d${i}`, func: summarise, args: [doc] })));
  expectTypeOf(many).toEqualTypeOf<DispatchResult<{ text: string }>[]>();

  // An inline function of the context alone gets the context typed, without annotations.
  const fetched = await d.dispatch(docs.map((doc) => ({ id: doc, func: async (ctx) => { expectTypeOf(ctx).toEqualTypeOf<TaskContext>(); return doc.length; } })));
  expectTypeOf(fetched).toEqualTypeOf<DispatchResult<number>[]>();
  d.submit({ id: 's', func: (ctx) => { expectTypeOf(ctx).toEqualTypeOf<TaskContext>(); return ctx.signal.aborted; } });

  // Async functions of the context alone (or of nothing) are typed by their awaited value.
  const [one] = await d.dispatch([{ id: 'a', func: async () => 1 }]);
  expectTypeOf(one).toEqualTypeOf<DispatchResult<number>>();
  const pair = await d.dispatch([
    { id: 'a', func: async (ctx) => ctx.attempt },
    { id: 'b', func: async (ctx) => ctx.taskId },
  ]);
  expectTypeOf(pair).toEqualTypeOf<[DispatchResult<number>, DispatchResult<string>]>();
  const [fromTask] = await d.dispatch([new Task({ id: 't', func: async () => 'x' })]);
  expectTypeOf(fromTask).toEqualTypeOf<DispatchResult<string>>();
  expectTypeOf(d.dispatchNowait([{ id: 'c', func: async (ctx) => ctx.signal.aborted }])).toEqualTypeOf<
    Map<string, Promise<DispatchResult<boolean>>>
  >();

  const task = new Task({ id: 't', func: summarise, args: ['doc'] });
  expectTypeOf(task.result).toEqualTypeOf<{ text: string } | null>();
  expectTypeOf(task.args).toEqualTypeOf<Readonly<[doc: string]>>();
  expectTypeOf(task.status).toEqualTypeOf<TaskStatus>();

  const nowait = d.dispatchNowait([{ id: 'n', func: add, args: [1, 2] }]);
  expectTypeOf(nowait).toEqualTypeOf<Map<string, Promise<DispatchResult<number>>>>();
  expectTypeOf(d.waitFor<number>('n')).toEqualTypeOf<Promise<DispatchResult<number>>>();
  expectTypeOf(d.getResult('n')).toEqualTypeOf<DispatchResult<unknown> | undefined>();
  expectTypeOf(d.results).toEqualTypeOf<ReadonlyMap<string, DispatchResult>>();
  expectTypeOf(d.shutdown()).toEqualTypeOf<Promise<void>>();
  expectTypeOf(d.submit({ id: 'x', func: add, args: [1, 2] })).toEqualTypeOf<string>();
}

export async function parallel(): Promise<void> {
  const run = dispatchParallel({ maxWorkers: 4 })(summarise);
  type Item = Readonly<[doc: string]> | string;
  expectTypeOf(run).parameter(0).toEqualTypeOf<readonly Item[] | Iterable<Item> | AsyncIterable<Item>>();
  expectTypeOf(await run(['a', ['b']])).toEqualTypeOf<{ text: string }[]>();
  const sum = dispatchParallel()(add);
  expectTypeOf(await sum([[1, 2]])).toEqualTypeOf<number[]>();
  expectTypeOf<TaskFailedError['index']>().toEqualTypeOf<number>();
  expectTypeOf<TaskFailedError['taskId']>().toEqualTypeOf<string>();
}

export async function misuse(): Promise<void> {
  // @ts-expect-error args are required when func needs them
  new Task({ id: 'a', func: summarise });
  // @ts-expect-error args must match func's parameters
  new Task({ id: 'a', func: summarise, args: [42] });
  // @ts-expect-error too many args
  new Task({ id: 'a', func: add, args: [1, 2, 3] });
  // @ts-expect-error an optional parameter would be handed the context
  new Task({ id: 'a', func: (n?: number) => n });
  // @ts-expect-error args that do not fit func, in a dispatch
  await d.dispatch([{ id: 'a', func: add, args: ['1', '2'] }]);
  // @ts-expect-error args from data of the wrong type, in a dispatch
  await d.dispatch([1, 2].map((n) => ({ id: `${n}`, func: summarise, args: [n] })));
  // @ts-expect-error missing args, in submit
  d.submit({ id: 'a', func: add });
  // @ts-expect-error id is required
  d.submit({ func: () => 1 });
  // @ts-expect-error func is required
  await d.dispatch([{ id: 'a' }]);
  // @ts-expect-error result is read-only to users
  new Task({ id: 'a', func: () => 1 }).result = 2;
  // @ts-expect-error maxWorkers is a number
  new Dispatcher({ maxWorkers: '4' });
  // @ts-expect-error unknown option
  new Dispatcher({ concurrency: 4 });
  // @ts-expect-error a signal must be an AbortSignal
  await d.dispatch([], { signal: 'stop' });
  // @ts-expect-error items must match fn's parameters
  await dispatchParallel()(add)([['1', 2]]);
  const r = await d.waitFor<string>('a');
  // @ts-expect-error result is not narrowed before checking success
  const text: string = r.result;
  expectTypeOf(text).toBeString();
}

interface AskOptions {
  readonly temperature?: number;
}
declare function ask(prompt: string, opts?: AskOptions, ctx?: TaskContext): Promise<string>;
declare function withDefault(prompt: string, opts: AskOptions | undefined, ctx: TaskContext): Promise<string>;
declare function optionalLast(prompt: string, opts?: AskOptions): string;

export async function optionalParameterBeforeContext(): Promise<void> {
  // `func(...args, ctx)` hands the context to the first parameter `args` leaves out, so an optional
  // parameter before the context must be given: `undefined` takes its default.
  expectTypeOf<TaskArgs<typeof ask>>().toEqualTypeOf<[string, AskOptions | undefined]>();
  const [r] = await d.dispatch([{ id: 'a', func: ask, args: ['p', undefined] }]);
  expectTypeOf(r).toEqualTypeOf<DispatchResult<string>>();
  d.submit({ id: 'b', func: ask, args: ['p', { temperature: 0 }] });
  new Task({ id: 'c', func: withDefault, args: ['p', undefined] });
  await d.dispatch([{ id: 'd', func: (prompt: string, opts = {}, ctx) => [prompt, opts, ctx], args: ['p', {}] }]);
  await d.dispatch([{ id: 'e', func: optionalLast, args: ['p', undefined] }]);
  // Tuples without optional parameters keep their labels; rest parameters take any number.
  expectTypeOf<TaskArgs<typeof summarise>>().toEqualTypeOf<[doc: string]>();
  await d.dispatch([{ id: 'f', func: (...words: string[]) => words.join(' '), args: ['a', 'b', 'c'] }]);
  expectTypeOf(await dispatchParallel()(ask)([['p', undefined]])).toEqualTypeOf<string[]>();

  // @ts-expect-error the context would land in opts
  await d.dispatch([{ id: 'x', func: ask, args: ['p'] }]);
  // @ts-expect-error the context would land in opts, in submit
  d.submit({ id: 'x', func: ask, args: ['p'] });
  // @ts-expect-error the context would land in opts, in a Task
  new Task({ id: 'x', func: withDefault, args: ['p'] });
  // @ts-expect-error an untyped inline function: the context would land in opts
  await d.dispatch([{ id: 'x', func: (prompt: string, opts = {}, ctx) => [prompt, opts, ctx], args: ['p'] }]);
  // @ts-expect-error an optional last parameter would be handed the context
  await d.dispatch([{ id: 'x', func: optionalLast, args: ['p'] }]);
  // @ts-expect-error the same in dispatchParallel
  await dispatchParallel()(ask)([['p']]);
}

export const optionsType: DispatcherOptions = { maxWorkers: Infinity, timeoutMs: 30_000, abortGraceMs: 1_000, maxResults: 10_000 };
export const initType: TaskInit<typeof add> = { id: 'a', func: add, args: [1, 2] };

export function eventsAndRetries(): void {
  const off = d.on('retry', (e) => {
    expectTypeOf(e.delayMs).toEqualTypeOf<number>();
    expectTypeOf(e.error).toEqualTypeOf<string>();
  });
  expectTypeOf(off).toEqualTypeOf<() => void>();
  d.on('settle', (r) => expectTypeOf(r).toEqualTypeOf<DispatchResult>());
  d.on('limit', (e) => expectTypeOf(e.previous).toEqualTypeOf<number>());
  // @ts-expect-error: not an event
  d.on('finish', () => {});
  // @ts-expect-error: only the dispatcher emits
  d.emit('idle');
  expectTypeOf(d.currentLimit).toEqualTypeOf<number>();
  expectTypeOf(d.paused).toEqualTypeOf<boolean>();
  const options: DispatcherOptions = { retry: { retries: 3, jitter: 'none', retryOn: (_e, attempt) => attempt < 2 }, adaptive: { min: 2 } };
  // @ts-expect-error: jitter is 'full' or 'none'
  const bad: DispatcherOptions = { retry: { jitter: 'half' } };
  void options;
  void bad;
  d.submit({ id: 'x', func: () => 1, retry: { retries: 1 }, totalTimeoutMs: 1_000 });
}

export async function attemptsOnResults(): Promise<void> {
  const [r] = await d.dispatch([{ id: 'a', func: () => 1 }]);
  expectTypeOf(r.attempts).toEqualTypeOf<number>();
  if (!r.success) {
    expectTypeOf(r.attemptErrors).toEqualTypeOf<string[]>();
  }
}

// duta/clients against the clients' own types: what each helper returns follows what the SDK gives.
declare const aiSdkResult: import('ai').StreamTextResult<import('ai').ToolSet, never>;
declare const messageStream: import('@anthropic-ai/sdk/lib/MessageStream').MessageStream;
declare const ctx: TaskContext;

export async function streamHelpers(): Promise<void> {
  const { readAiSdkStream, readAnthropicStream } = await import('../src/clients/index.js');
  const read = await readAiSdkStream(aiSdkResult, { context: ctx, onText: (text) => expectTypeOf(text).toBeString() });
  expectTypeOf(read.text).toBeString();
  expectTypeOf(read.usage).toEqualTypeOf<import('ai').LanguageModelUsage | undefined>();
  const message = await readAnthropicStream(messageStream, { context: ctx });
  expectTypeOf(message).toEqualTypeOf<Awaited<ReturnType<typeof messageStream.finalMessage>>>();
  // @ts-expect-error: a generateText result has no fullStream
  await readAiSdkStream({ text: 'done' });
  // @ts-expect-error: onText takes a function
  await readAnthropicStream(messageStream, { onText: 'print' });
}
