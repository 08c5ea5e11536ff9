import { checkNumber, checkOptions, checkType, invalidType } from '../validate.js';

/** Tokens a task used, as `ctx.reportUsage` or `usageOf` gives them. */
export interface Usage {
  readonly totalTokens: number;
  readonly promptTokens?: number;
  readonly completionTokens?: number;
}

/** Caps on what the dispatcher may spend; once one is reached, queued tasks end as cancelled. */
export interface BudgetOptions {
  /** Tokens, counted from reported usage, else the task's `cost` estimate. */
  readonly tokens?: number;
  /** Attempts started, retries included. */
  readonly requests?: number;
  /** Money, as `spendOf(usage)` counts it. */
  readonly spend?: number;
  /** Turns one attempt's usage into money; required with `spend`. */
  readonly spendOf?: (usage: Usage) => number;
}

const limit = (name: string, value: unknown): number =>
  value === undefined ? Infinity : checkNumber(name, value, 'a number ≥ 0', (n) => n >= 0);

/** What has been used against the caps. */
export class Budget {
  readonly #tokens: number;
  readonly #requests: number;
  readonly #spend: number;
  readonly #spendOf: ((usage: Usage) => number) | undefined;
  tokens = 0;
  requests = 0;
  spend = 0;

  constructor(options: unknown) {
    const { tokens, requests, spend, spendOf } = checkOptions('budget', options, ['tokens', 'requests', 'spend', 'spendOf'], {
      maxTokens: 'tokens',
      maxRequests: 'requests',
      maxSpend: 'spend',
      cost: 'spend',
      money: 'spend',
    }) as BudgetOptions;
    this.#tokens = limit('budget.tokens', tokens);
    this.#requests = limit('budget.requests', requests);
    this.#spend = limit('budget.spend', spend);
    if (spend !== undefined && spendOf === undefined) {
      invalidType('budget.spendOf', 'a function, which budget.spend needs to price usage', spendOf);
    }
    if (spendOf !== undefined) {
      this.#spendOf = checkType('budget.spendOf', spendOf, 'function');
    }
  }

  /** Which cap is reached, as an error's words, or undefined while none is. */
  get exhausted(): string | undefined {
    for (const [used, cap, name] of [
      [this.tokens, this.#tokens, 'tokens'],
      [this.requests, this.#requests, 'requests'],
      [this.spend, this.#spend, 'spend'],
    ] as const) {
      if (used >= cap) {
        return `budget exhausted (${name}: ${used} used of ${cap})`;
      }
    }
    return undefined;
  }

  /** An attempt starts: one request, and its estimate in tokens and money, counted now. */
  start(cost: number): void {
    this.requests++;
    this.#add({ totalTokens: cost }, 1);
  }

  /** An attempt ended: its estimate is replaced by the usage it reported, if any. */
  settle(cost: number, usage: Usage | undefined): void {
    if (usage !== undefined) {
      this.#add({ totalTokens: cost }, -1);
      this.#add(usage, 1);
    }
  }

  /** Adds (`sign` 1) or takes back (-1) a usage's tokens and price. A `spendOf` that throws or returns junk prices it at 0. */
  #add(usage: Usage, sign: 1 | -1): void {
    this.tokens += sign * usage.totalTokens;
    if (this.#spendOf !== undefined) {
      let price = 0;
      try {
        price = this.#spendOf(usage);
      } catch {
        // Priced at nothing: a bug in the price function must not break the dispatch.
      }
      this.spend += sign * (Number.isFinite(price) && price > 0 ? price : 0);
    }
  }
}

/** A usage as reported by a task: validated, since it comes from user code. */
export function checkUsage(usage: unknown): Usage {
  const { totalTokens } = checkOptions('usage', usage, ['totalTokens', 'promptTokens', 'completionTokens']) as Usage;
  checkNumber('usage.totalTokens', totalTokens, 'a number ≥ 0', (n) => n >= 0 && n !== Infinity);
  return usage as Usage;
}
