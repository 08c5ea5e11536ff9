import { checkCount, checkDuration, checkOptions } from './validate.js';

export interface DispatcherOptions {
  /** Most task functions running at once: an integer ≥ 1, or `Infinity`. Settable later as `dispatcher.maxWorkers`. @default 4 */
  readonly maxWorkers?: number;
  /** Per-task time limit in milliseconds, counted from the task's start; `Infinity` for none. A task's own `timeoutMs` overrides it. @default 30_000 */
  readonly timeoutMs?: number;
  /** How long a timed-out or cancelled task that ignores its signal keeps its slot, in milliseconds; `Infinity` waits for it. @default 1_000 */
  readonly abortGraceMs?: number;
  /** Most finished results kept in `results` (oldest evicted first): an integer ≥ 1, or `Infinity`. @default 10_000 */
  readonly maxResults?: number;
}

export type ResolvedOptions = Required<DispatcherOptions>;

const checks: { [K in keyof ResolvedOptions]: (name: string, value: unknown) => ResolvedOptions[K] } = {
  maxWorkers: checkCount,
  timeoutMs: checkDuration,
  abortGraceMs: checkDuration,
  maxResults: checkCount,
};

export const defaultOptions: ResolvedOptions = {
  maxWorkers: 4,
  timeoutMs: 30_000,
  abortGraceMs: 1_000,
  maxResults: 10_000,
};

/** Validates every option, naming the option and the value received, and fills in the defaults. */
export function resolveOptions(options: DispatcherOptions = {}): ResolvedOptions {
  checkOptions('options', options, Object.keys(checks));
  const resolved: Record<string, unknown> = { ...defaultOptions };
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined) {
      resolved[name] = checks[name as keyof ResolvedOptions](name, value);
    }
  }
  return resolved as ResolvedOptions;
}
