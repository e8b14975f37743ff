// Turning zod issues about a routing file into one readable line each, with "did you mean" for typos.
import type { z } from 'zod';
import {
  AnthropicBackendSchema,
  BACKEND_TYPES,
  type ConfigProblem,
  describeValue,
  MockBackendSchema,
  OpenAIBackendSchema,
  RouteSchema,
  RoutingFileSchema,
} from './routing-config.ts';

const KEYS = {
  top: Object.keys(RoutingFileSchema.shape),
  route: Object.keys(RouteSchema.shape),
  anthropic: Object.keys(AnthropicBackendSchema.shape),
  openai: Object.keys(OpenAIBackendSchema.shape),
  mock: Object.keys(MockBackendSchema.shape),
};

/** The keys allowed in the object at `path` (for "did you mean"), given that object. */
function knownKeysAt(path: readonly PropertyKey[], obj: unknown): readonly string[] {
  if (path.length === 0) return KEYS.top;
  if (path.length === 2 && path[0] === 'routes') return KEYS.route;
  if (path.length === 2 && path[0] === 'backends') {
    const type = (obj as { type?: unknown } | undefined)?.type;
    if (type === 'anthropic' || type === 'openai' || type === 'mock') return KEYS[type];
  }
  return [];
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key a typo most likely meant: same letters ignoring case and `_`/`-`, or at most 2 edits away. */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const squash = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const same = known.find((k) => squash(k) === squash(key));
  if (same) return same;
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  return best;
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  if (key === 'api_key' && known.includes('api_key_env'))
    return 'unknown key: keep the key out of this file; put it in an environment variable and name that with api_key_env';
  const guess = closestKey(key, known);
  return guess ? `unknown key (did you mean ${guess}?)` : `unknown key; allowed here: ${known.join(', ')}`;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function bound(
  kind: 'at least' | 'at most',
  issue: { origin: string; inclusive?: boolean },
  n: unknown,
): string {
  if (issue.origin === 'string') return `must have ${kind} ${n} characters`;
  if (issue.origin === 'array') return `must have ${kind} ${n} entries`;
  if (issue.inclusive === false) return `must be ${kind === 'at least' ? 'greater' : 'less'} than ${n}`;
  return `must be ${kind} ${n}`;
}

/** Turns one zod issue into readable problems (several for several unknown keys). */
export function describeIssue(issue: z.core.$ZodIssue): ConfigProblem[] {
  const path = issue.path;
  const secret = path.includes('headers');
  const got = (): string => `, got ${describeValue(issue.input, secret)}`;
  switch (issue.code) {
    case 'invalid_type': {
      if (issue.input === undefined) return [{ path, message: 'is required' }];
      if (path.length === 0)
        return [{ path, message: `expected a mapping with backends and routes at the top level${got()}` }];
      // A schema's own `error` text ("expected an integer") wins over zod's generic one.
      const expected = issue.message.startsWith('expected ')
        ? issue.message
        : `expected ${EXPECTED[issue.expected] ?? issue.expected}`;
      return [{ path, message: `${expected}${got()}` }];
    }
    case 'unrecognized_keys': {
      const known = knownKeysAt(path, issue.input);
      return issue.keys.map((k) => ({ path: [...path, k], message: unknownKeyMessage(k, known) }));
    }
    case 'invalid_union': {
      if ('discriminator' in issue && issue.discriminator === 'type') {
        const type = (issue.input as { type?: unknown } | undefined)?.type;
        const list = BACKEND_TYPES.join(', ');
        return [
          type === undefined
            ? { path, message: `is required: one of ${list}` }
            : { path, message: `expected one of ${list}, got ${describeValue(type)}` },
        ];
      }
      return [{ path, message: issue.message }];
    }
    case 'invalid_value':
      return [{ path, message: `expected one of ${issue.values.map(String).join(', ')}${got()}` }];
    case 'too_small':
      return [
        { path, message: bound('at least', issue, issue.minimum) + (issue.origin === 'number' ? got() : '') },
      ];
    case 'too_big':
      return [
        { path, message: bound('at most', issue, issue.maximum) + (issue.origin === 'number' ? got() : '') },
      ];
    case 'invalid_key':
      return [{ path, message: issue.issues[0]?.message ?? 'invalid name' }];
    default:
      return [{ path, message: issue.message }];
  }
}
