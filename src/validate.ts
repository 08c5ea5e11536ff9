/**
 * One place for input checks, so every message follows one template:
 * "Expected `name` to be <what>, got <value> (<type>)".
 * Wrong kinds throw `TypeError`; values of the right kind but out of range throw `RangeError`.
 */

/** Renders a received value for an error message, short and never throwing. */
export function describeValue(value: unknown): string {
  const type = typeof value;
  return `${type === 'string' ? JSON.stringify(value) : type === 'number' || type === 'boolean' || type === 'bigint' || value == null ? String(value) : type === 'object' ? 'an object' : `a ${type}`} (${type})`;
}

function fail(Kind: typeof TypeError, name: string, expected: string, value: unknown): never {
  throw new Kind(`Expected \`${name}\` to be ${expected}, got ${describeValue(value)}`);
}

export function invalidType(name: string, expected: string, value: unknown): never {
  return fail(TypeError, name, expected, value);
}

export function invalidValue(name: string, expected: string, value: unknown): never {
  return fail(RangeError, name, expected, value);
}

/**
 * Checks a number option: `typeof` first (a `TypeError`), then the range and integrality
 * (a `RangeError`). `Infinity` passes any range check whose lower bound it exceeds.
 */
export function checkNumber(
  name: string,
  value: unknown,
  expected: string,
  inRange: (value: number) => boolean,
): number {
  if (typeof value !== 'number') {
    fail(TypeError, name, expected, value);
  }
  if (!inRange(value)) {
    fail(RangeError, name, expected, value);
  }
  return value;
}

/** An integer ≥ 1, or `Infinity`: concurrency and capacity settings. */
export const checkCount = (name: string, value: unknown): number =>
  checkNumber(
    name,
    value,
    'an integer ≥ 1 or Infinity',
    (n) => n >= 1 && (Number.isInteger(n) || n === Infinity),
  );

/** A number > 0, or `Infinity`: durations in milliseconds. */
export const checkDuration = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a number > 0 or Infinity', (n) => n > 0);

export const checkFinite = (name: string, value: unknown): number =>
  checkNumber(name, value, 'a finite number', Number.isFinite);

export function checkString(name: string, value: unknown): string {
  if (typeof value !== 'string') {
    fail(TypeError, name, 'a non-empty string', value);
  }
  if (value === '') {
    fail(RangeError, name, 'a non-empty string', value);
  }
  return value;
}

export function checkType<T>(name: string, value: T, type: 'function' | 'boolean' | 'string'): T {
  if (typeof value !== type) {
    fail(TypeError, name, `a ${type}`, value);
  }
  return value;
}

export function checkObject(name: string, value: unknown): object {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(TypeError, name, 'an object', value);
  }
  return value;
}

/**
 * The name to suggest for `unknown`, which is not one of `known`: the replacement that `aliases` gives
 * (for names other libraries use: `concurrency` → `maxWorkers`), a known name differing only in case, the
 * one known name it begins, else the nearest by edit distance (a unit suffix such as `Ms` left out counts
 * nothing), if near enough to be a typo. `undefined` when nothing is near.
 */
export function suggestName(unknown: string, known: readonly string[], aliases: Readonly<Record<string, string>> = {}): string | undefined {
  if (Object.hasOwn(aliases, unknown)) {
    return aliases[unknown];
  }
  const lower = unknown.toLowerCase();
  const exact = known.find((name) => name.toLowerCase() === lower);
  if (exact !== undefined) {
    return exact;
  }
  const extending = known.filter((name) => name.toLowerCase().startsWith(lower));
  if (lower.length >= 3 && extending.length === 1) {
    return extending[0];
  }
  // Up to one edit in four characters: `concurency` and `timout` are typos, `rpm` is not `max`.
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(lower.length / 4)) + 1;
  for (const name of known) {
    const candidate = name.toLowerCase();
    const distance = Math.min(editDistance(lower, candidate), editDistance(lower, candidate.replace(/ms$/, '')));
    if (distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best;
}

/** Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
  // Rows of the optimal-string-alignment table: the one before the previous, the previous, the current.
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitute = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let cost = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitute);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        cost = Math.min(cost, (before[j - 2] as number) + 1);
      }
      current.push(cost);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * The error for a key of `name` that is not one of `known`, suggesting the right one where it can:
 * "Unknown option \`options.concurrency\`: did you mean \`maxWorkers\`?". `kind` names what the keys are.
 */
export function unknownKey(
  name: string,
  key: string,
  known: readonly string[],
  aliases?: Readonly<Record<string, string>>,
  kind = 'option',
): TypeError {
  const suggestion = suggestName(key, known, aliases);
  return new TypeError(`Unknown ${kind} \`${name}.${key}\`${suggestion === undefined ? '' : `: did you mean \`${suggestion}\`?`}`);
}

/**
 * An options object whose keys are all known, so a typo such as `concurreny` is not silently ignored;
 * `aliases` maps names other libraries use to the suggestion for each.
 */
export function checkOptions(name: string, value: unknown, known: readonly string[], aliases?: Readonly<Record<string, string>>): object {
  for (const key of Object.keys(checkObject(name, value))) {
    if (!known.includes(key)) {
      throw unknownKey(name, key, known, aliases);
    }
  }
  return value as object;
}
