import type { Usage } from './policies/budget.js';
import type { RetryOptions } from './policies/retry.js';
/** What every task function receives as its last argument. */
export interface TaskContext {
  /** Aborts when the task times out, is cancelled, or the dispatcher shuts down without waiting. */
  readonly signal: AbortSignal;
  readonly taskId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Reports the tokens this attempt used, correcting the task's `cost` for rate limits and budgets. */
  reportUsage(usage: Usage): void;
}

/**
 * Any function a task may run. Its parameters decide `args`; its (awaited) return type decides `result`.
 * The parameters are `any[]` because this is the widest function type: with `never[]`, an unannotated
 * parameter of an inline task function would be typed `never`.
 */
// biome-ignore lint/suspicious/noExplicitAny: the constraint "any function"; results stay typed.
export type TaskFunction = (...args: any[]) => unknown;

/** Where a `Task` is: `pending` until it starts, `running`, then how it ended (`lost` only in a fleet's records). */
export type TaskStatus = 'pending' | 'running' | 'done' | 'failed' | 'timeout' | 'cancelled' | 'lost';

type IsAny<T> = 0 extends 1 & T ? true : false;

/** True for an array or a tuple with a rest element, whose length is not known. */
type IsArray<T extends readonly unknown[]> = number extends T['length'] ? true : false;

/** True when a last parameter is the context slot: it takes a `TaskContext` (an untyped one counts; `unknown` does not). */
type AcceptsContext<P> = IsAny<P> extends true ? true : unknown extends P ? false : TaskContext extends P ? true : false;

/**
 * Parameters with each optional one made required, `undefined` allowed: `func` is called as
 * `func(...args, ctx)`, so an optional parameter left out would be handed the context. Tuples without
 * optional parameters keep their labels; arrays and rest parameters are left as they are.
 */
type Filled<P extends readonly unknown[]> = P extends Required<P> ? P : FillTuple<P>;

type FillTuple<P extends readonly unknown[]> = IsArray<P> extends true
  ? P
  : P extends readonly []
    ? []
    : P extends readonly [infer Head, ...infer Rest]
      ? [Head, ...FillTuple<Rest>]
      : P extends readonly [(infer Head)?, ...infer Rest]
        ? [Head | undefined, ...FillTuple<Rest>]
        : P;

/**
 * The arguments a task passes to `func`: its parameters without a trailing `TaskContext` one, every one
 * given, optional ones too (`(prompt: string, opts?: Options, ctx?: TaskContext)` takes `args: [prompt, undefined]`).
 */
export type TaskArgs<F extends TaskFunction> =
  Filled<Parameters<F>> extends [...infer Rest, infer Last]
    ? AcceptsContext<Last> extends true
      ? Rest
      : Filled<Parameters<F>>
    : Filled<Parameters<F>>;

/** What a successful task's `result` holds: the awaited return type of `func`. */
export type TaskResultOf<F extends TaskFunction> = Awaited<ReturnType<F>>;

interface TaskFields<F extends TaskFunction> {
  /** Non-empty, unique among the dispatcher's pending and running tasks. */
  readonly id: string;
  /** Called as `func(...args, ctx)`. */
  readonly func: F;
  /** Higher starts first; equal priorities start in submission order. @default 0 */
  readonly priority?: number;
  /** Overrides the dispatcher's `timeoutMs` (per attempt) for this task. */
  readonly timeoutMs?: number;
  /** Overrides the dispatcher's `totalTimeoutMs` (across attempts) for this task. */
  readonly totalTimeoutMs?: number;
  /** Overrides fields of the dispatcher's `retry` for this task. */
  readonly retry?: RetryOptions;
  /** Groups tasks for per-key rate limits and fair turns (a model, a tenant). @default '' */
  readonly key?: string;
  /** Estimated tokens, reserved at start and corrected by the usage reported: a number, or a function of the task. @default 0 */
  readonly cost?: number | ((task: TaskLike) => number);
  /** Aborting it cancels the task: at once while it is queued or waiting to retry, by aborting its attempt while it runs. */
  readonly signal?: AbortSignal;
}

/**
 * True when `args` may be left out: `func` needs no arguments, and its first parameter, if any, can take
 * the context (so `(n?: number) => …` without `args` is refused: it would be handed the context as `n`).
 */
type ArgsOptional<F extends TaskFunction> = [] extends TaskArgs<F>
  ? Parameters<F> extends []
    ? true
    : AcceptsContext<Parameters<F>[0]>
  : false;

/**
 * What `new Task(init)` takes, and what `submit`/`dispatch` accept in place of a `Task`.
 * `args` may be left out only when `func` needs no arguments.
 */
export type TaskInit<F extends TaskFunction = TaskFunction> = TaskFields<F> &
  (ArgsOptional<F> extends true ? { readonly args?: Readonly<TaskArgs<F>> } : { readonly args: Readonly<TaskArgs<F>> });

/** A task whose function takes only the context: what lets an inline `(ctx) => …` be typed without annotations. */
export type ContextTaskInit<R = unknown> = TaskInit<(ctx: TaskContext) => R | PromiseLike<R>>;

/** The widest shape accepted wherever a task is: a `Task` or a plain `{ id, func, args?, priority?, … }`. */
export interface TaskLike extends TaskFields<TaskFunction> {
  readonly args?: readonly unknown[];
}

/** The result type of a task input, inferred from its `func`. */
export type ResultOf<T> = T extends { readonly func: infer F extends TaskFunction } ? TaskResultOf<F> : never;

/** Any arguments fit a function of `...args: any[]`; an untyped inline function still has a length. */
type ArgsMatch<T> = T extends { readonly func: infer F extends TaskFunction }
  ? [IsAny<Parameters<F>[number]>, IsArray<Parameters<F>>] extends [true, true]
    ? true
    : T extends { readonly args: infer A }
      ? number extends (A & readonly unknown[])['length']
        ? A extends readonly (infer E)[]
          ? E extends TaskArgs<F>[number]
            ? true
            : false
          : false
        : A extends Readonly<TaskArgs<F>>
          ? true
          : false
      : ArgsOptional<F>
  : false;

type MismatchedIndex<T extends readonly unknown[]> = {
  [K in keyof T]: ArgsMatch<T[K]> extends true ? never : K;
}[number];

/**
 * Compile-time check of a task list: every element's `args` must fit its `func`. A mismatch surfaces as a
 * missing property naming the offending index. Arrays built at run time (`args: string[]`) are checked
 * element-wise, since TypeScript cannot know their length.
 */
export type CheckedTasks<T extends readonly unknown[]> = [MismatchedIndex<T>] extends [never]
  ? unknown
  : { readonly 'args do not match func at index': MismatchedIndex<T> };
