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

/** An options object whose keys are all known, so a typo such as `concurrency` is not silently ignored. */
export function checkOptions(name: string, value: unknown, known: readonly string[]): object {
  for (const key of Object.keys(checkObject(name, value))) {
    if (!known.includes(key)) {
      throw new TypeError(`Unknown option \`${name}.${key}\``);
    }
  }
  return value as object;
}

/** " (did you mean `x`?)" for a name one or two edits from a known one, else ''. */
export function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = editDistance(name.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean \`${best}\`?)`;
}

/** Levenshtein distance: the fewest single-letter inserts, deletes and changes from `a` to `b`. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}
