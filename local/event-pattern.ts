/**
 * EventBridge event patterns, as rules and Lambda event-source filters use them: every field of
 * the pattern must match; a nested object matches the event's nested object; an array lists
 * alternatives, each either a literal (string, number, boolean, null: exact match; an array
 * value in the event matches when one of its elements does) or one of the content filters
 * below. `$or` takes a list of patterns. Anything else is refused when the pattern is read, so a
 * pattern the stand-in does not understand never silently matches nothing.
 */
export class UnsupportedEventPattern extends Error {
  override readonly name = 'UnsupportedEventPattern';
}

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export type EventPattern = Record<string, unknown>;

/** Checks a pattern's shape up front (throws UnsupportedEventPattern). */
export function validatePattern(pattern: unknown, path = ''): EventPattern {
  if (!isObject(pattern)) throw new UnsupportedEventPattern(`pattern${path} must be an object`);
  for (const [key, value] of Object.entries(pattern)) {
    const at = `${path}.${key}`;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2)
        throw new UnsupportedEventPattern(`${at} needs at least two patterns`);
      value.forEach((p, i) => validatePattern(p, `${at}[${i}]`));
    } else if (Array.isArray(value)) {
      value.forEach((m, i) => validateMatcher(m, `${at}[${i}]`));
    } else if (isObject(value)) {
      validatePattern(value, at);
    } else {
      throw new UnsupportedEventPattern(`${at} must be an array of values or a nested pattern`);
    }
  }
  return pattern;
}

function validateMatcher(m: unknown, at: string): void {
  if (m === null || ['string', 'number', 'boolean'].includes(typeof m)) return;
  if (!isObject(m) || Object.keys(m).length !== 1) throw new UnsupportedEventPattern(`${at}: not a value or a filter`);
  const [op, arg] = Object.entries(m)[0] as [string, unknown];
  switch (op) {
    case 'prefix':
    case 'suffix':
      if (typeof arg === 'string' || (isObject(arg) && typeof arg['equals-ignore-case'] === 'string')) return;
      break;
    case 'equals-ignore-case':
      if (typeof arg === 'string') return;
      break;
    case 'exists':
      if (typeof arg === 'boolean') return;
      break;
    case 'anything-but':
      if (['string', 'number'].includes(typeof arg)) return;
      if (Array.isArray(arg) && arg.every((a) => ['string', 'number'].includes(typeof a))) return;
      if (isObject(arg) && (typeof arg['prefix'] === 'string' || typeof arg['suffix'] === 'string')) return;
      break;
    case 'numeric':
      if (Array.isArray(arg) && arg.length % 2 === 0 && arg.length > 0) return;
      break;
    default:
      break;
  }
  throw new UnsupportedEventPattern(`${at}: filter ${JSON.stringify(m)} is not supported locally`);
}

/** Whether `event` (a JSON value) matches `pattern`. */
export function matchesPattern(pattern: EventPattern, event: unknown): boolean {
  if (!isObject(event)) return false;
  return Object.entries(pattern).every(([key, expected]) => {
    if (key === '$or') return (expected as EventPattern[]).some((p) => matchesPattern(p, event));
    const present = Object.prototype.hasOwnProperty.call(event, key);
    const actual = event[key];
    if (isObject(expected)) return present && matchesPattern(expected, actual);
    const matchers = expected as Json[];
    // A field absent from the event matches only `{exists: false}`.
    if (!present) return matchers.some((m) => isObject(m) && m['exists'] === false);
    const values = Array.isArray(actual) ? actual : [actual];
    return matchers.some((m) => {
      if (isObject(m) && 'exists' in m) return m['exists'] === true;
      return values.some((v) => matchValue(m, v));
    });
  });
}

function matchValue(m: Json, v: unknown): boolean {
  if (!isObject(m)) return m === v;
  const [op, arg] = Object.entries(m)[0] as [string, Json];
  switch (op) {
    case 'prefix':
    case 'suffix': {
      // validatePattern admitted only a string or {equals-ignore-case: string} here.
      const wanted = isObject(arg) ? arg['equals-ignore-case'] : arg;
      if (typeof v !== 'string' || typeof wanted !== 'string') return false;
      const [subject, affix] = isObject(arg) ? [v.toLowerCase(), wanted.toLowerCase()] : [v, wanted];
      return op === 'prefix' ? subject.startsWith(affix) : subject.endsWith(affix);
    }
    case 'equals-ignore-case':
      return typeof v === 'string' && typeof arg === 'string' && v.toLowerCase() === arg.toLowerCase();
    case 'anything-but': {
      if (isObject(arg)) {
        if (typeof v !== 'string') return true;
        if (typeof arg['prefix'] === 'string') return !v.startsWith(arg['prefix']);
        return typeof arg['suffix'] === 'string' && !v.endsWith(arg['suffix']);
      }
      const excluded = Array.isArray(arg) ? arg : [arg];
      return !excluded.includes(v as Json);
    }
    case 'numeric': {
      if (typeof v !== 'number') return false;
      const ops = arg as (string | number)[];
      for (let i = 0; i < ops.length; i += 2) {
        const [cmp, n] = [ops[i], Number(ops[i + 1])];
        const ok =
          cmp === '<'
            ? v < n
            : cmp === '<='
              ? v <= n
              : cmp === '>'
                ? v > n
                : cmp === '>='
                  ? v >= n
                  : cmp === '='
                    ? v === n
                    : false;
        if (!ok) return false;
      }
      return true;
    }
    default:
      return false;
  }
}
