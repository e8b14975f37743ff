import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  CreateBodyScanner,
  IngestError,
  type ScannedItem,
  type ScannerLimits,
} from '../../src/ingest/create-body-scanner.ts';

interface ScanResult {
  items: ScannedItem[];
  count: number;
  bytesSeen: number;
}

/** Splits a body into chunks: one chunk, fixed-size chunks, or chunks ending at the given offsets. */
function chunksOf(body: Buffer, chunking?: number | number[]): Buffer[] {
  if (chunking === undefined) return [body];
  const cuts: number[] = [];
  if (typeof chunking === 'number') for (let o = chunking; o < body.length; o += chunking) cuts.push(o);
  else cuts.push(...chunking);
  const out: Buffer[] = [];
  let from = 0;
  for (const cut of [...cuts, body.length]) {
    out.push(body.subarray(from, cut));
    from = cut;
  }
  return out;
}

function scan(
  body: string | Buffer,
  chunking?: number | number[],
  limits?: Partial<ScannerLimits>,
): ScanResult {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const scanner = new CreateBodyScanner(limits);
  const items: ScannedItem[] = [];
  for (const chunk of chunksOf(bytes, chunking)) items.push(...scanner.push(chunk));
  const count = scanner.end();
  return { items, count, bytesSeen: scanner.bytesSeen };
}

function caught(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

/** Asserts the body is rejected with an IngestError with this message, whole and in 1- and 7-byte chunks. */
function rejects(body: string | Buffer, message: string | RegExp, limits?: Partial<ScannerLimits>): void {
  for (const chunking of [undefined, 1, 7]) {
    const err = caught(() => scan(body, chunking, limits));
    assert.ok(err instanceof IngestError, `expected an IngestError, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message, `chunking ${chunking}`);
    else assert.match(err.message, message, `chunking ${chunking}`);
  }
}

function body(...items: string[]): string {
  return `{"requests":[${items.join(',')}]}`;
}

function item(customId: string, params = '{}'): string {
  return `{"custom_id":${JSON.stringify(customId)},"params":${params}}`;
}

/** A comparable view of scan results. */
function summary(items: ScannedItem[]): [number, string, string][] {
  return items.map((it) => [it.index, it.customId, it.params.toString('hex')]);
}

// Params texts covering whitespace, escapes, raw multi-byte UTF-8 and hostile keys.
const PARAMS = [
  '{ "model" : "m",\n\t"max_tokens": 10 ,\r\n"messages":[ {"role":"user","content":"hi"} ] }',
  String.raw`{"s":"quote \" backslash \\ e \u00e9 smile \ud83d\ude00 slash \/ nl \n","k\"\\":"\\"}`,
  '{"t":"é 日本 😀","日本":["😀",{"é":"\\u65e5"}]}',
  '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
  '{}',
  '{"a":[[],{},[{}]],"b":-1.5e+10,"c":true,"d":false,"e":null,"f":0,"g":"}]{[,:"}',
];
const IDS = ['req-0', 'a', 'Z_9-x', 'x'.repeat(64), 'b', 'c'];
const HAPPY = `\r\n\t {"requ\\u0065sts" : [ ${PARAMS.map((p, i) =>
  i === 4
    ? `{"p\\u0061rams":${p} , "custom\\u005fid":"${IDS[i]}"}`
    : `{ "custom_id" : "${IDS[i]}" ,\n "params" :${p}}`,
).join(' ,\n')} ] } \n`;

describe('CreateBodyScanner: happy path', () => {
  test('reads params.model as the routing key, decoding non-ASCII names and ignoring non-strings', () => {
    const r = scan(
      body(
        item('a', '{"model":"claude-sonnet-4-5","max_tokens":1}'),
        item('b', '{"model":"m\u00e9-\u65e5","x":{"model":"inner"}}'),
        item('c', '{"model":"modèle-日本"}'),
        item('d', '{"model":42}'),
        item('e', '{"messages":[]}'),
      ),
      3,
    );
    assert.deepEqual(
      r.items.map((i) => i.model),
      ['claude-sonnet-4-5', 'mé-日', 'modèle-日本', null, null],
    );
  });
  test('yields each item with the exact bytes of its params', () => {
    const r = scan(HAPPY);
    assert.equal(r.count, PARAMS.length);
    assert.equal(r.bytesSeen, Buffer.byteLength(HAPPY));
    assert.equal(r.items.length, PARAMS.length);
    r.items.forEach((it, i) => {
      assert.equal(it.index, i);
      assert.equal(it.customId, IDS[i]);
      assert.ok(it.params.equals(Buffer.from(PARAMS[i]!)), `params ${i}: ${it.params.toString()}`);
    });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('params bytes are copies: reusing the input chunk does not change them', () => {
    const chunk = Buffer.from(body(item('a', '{"x":1}')));
    const scanner = new CreateBodyScanner();
    const [it] = scanner.push(chunk);
    chunk.fill(0x20);
    assert.equal(it!.params.toString(), '{"x":1}');
  });

  test('push returns the items completed within that chunk', () => {
    const text = body(item('a'), item('b'), item('c'));
    const cut1 = text.indexOf('"b"');
    const cut2 = text.indexOf('}', text.indexOf('"c"')) + 2; // just after item c's closing brace
    const scanner = new CreateBodyScanner();
    const bytes = Buffer.from(text);
    assert.deepEqual(
      scanner.push(bytes.subarray(0, cut1)).map((it) => it.customId),
      ['a'],
    );
    assert.deepEqual(
      scanner.push(bytes.subarray(cut1, cut2)).map((it) => it.customId),
      ['b', 'c'],
    );
    assert.deepEqual(scanner.push(bytes.subarray(cut2)), []);
    assert.equal(scanner.end(), 3);
  });

  test('an empty chunk is fine anywhere', () => {
    const scanner = new CreateBodyScanner();
    assert.deepEqual(scanner.push(Buffer.alloc(0)), []);
    assert.equal(scanner.push(Buffer.from(body(item('a')))).length, 1);
    assert.deepEqual(scanner.push(Buffer.alloc(0)), []);
    assert.equal(scanner.end(), 1);
  });

  test('the same items result for a split at every position, and for 1-byte chunks', () => {
    const bytes = Buffer.from(HAPPY);
    const expected = summary(scan(bytes).items);
    for (let cut = 0; cut <= bytes.length; cut++) {
      assert.deepEqual(summary(scan(bytes, [cut]).items), expected, `split at ${cut}`);
    }
    for (let a = 0; a < bytes.length; a += 13) {
      for (let b = a; b <= bytes.length; b += 17) {
        assert.deepEqual(summary(scan(bytes, [a, b]).items), expected, `split at ${a} and ${b}`);
      }
    }
    assert.deepEqual(summary(scan(bytes, 1).items), expected);
  });

  test('multi-byte UTF-8 split across chunks decodes intact', () => {
    const text = body(item('a', '{"t":"😀日é"}'));
    const bytes = Buffer.from(text);
    const emoji = bytes.indexOf(Buffer.from('😀'));
    for (let k = 1; k < 4; k++) {
      const [it] = scan(bytes, [emoji + k]).items;
      assert.equal(it!.params.toString('utf8'), '{"t":"😀日é"}');
    }
    const [it] = scan(bytes, 1).items;
    assert.equal(JSON.parse(it!.params.toString('utf8')).t, '😀日é');
  });

  test('an escape split across chunks', () => {
    const text = body(item('a', String.raw`{"t":"a\"b\\","u":"\u00e9"}`));
    const bytes = Buffer.from(text);
    for (const needle of ['\\"', '\\\\', '\\u']) {
      const at = bytes.indexOf(needle);
      const [it] = scan(bytes, [at + 1]).items;
      assert.deepEqual(JSON.parse(it!.params.toString()), { t: 'a"b\\', u: 'é' });
    }
  });

  test('top-level and item keys may be escaped', () => {
    const r = scan('{"\\u0072equests":[{"\\u0063ustom_id":"a","\\u0070arams":{"k":1}}]}');
    assert.equal(r.items[0]!.customId, 'a');
    assert.equal(r.items[0]!.params.toString(), '{"k":1}');
  });

  test('an escaped custom_id is decoded and then validated', () => {
    assert.equal(scan(body('{"custom_id":"\\u0061-\\u0062","params":{}}')).items[0]!.customId, 'a-b');
  });

  test('whitespace is allowed between all tokens', () => {
    const ws = ' \t\r\n';
    const text = `${ws}{${ws}"requests"${ws}:${ws}[${ws}{${ws}"custom_id"${ws}:${ws}"a"${ws},${ws}"params"${ws}:${ws}{${ws}}${ws}}${ws},${ws}{"custom_id":"b","params":{}}${ws}]${ws}}${ws}`;
    const r = scan(text);
    assert.deepEqual(
      r.items.map((it) => [it.customId, it.params.toString()]),
      [
        ['a', `{${ws}}`],
        ['b', '{}'],
      ],
    );
  });

  test('a 64-character custom_id is accepted', () => {
    assert.equal(scan(body(item('x'.repeat(64)))).items[0]!.customId, 'x'.repeat(64));
  });

  test('end() returns the item count', () => {
    assert.equal(scan(body(item('a'), item('b'))).count, 2);
  });
});

describe('CreateBodyScanner: nesting depth', () => {
  const nested = (depth: number) => `${'{"a":['.repeat((depth - 1) / 2)}{}${']}'.repeat((depth - 1) / 2)}`;

  test('params nested up to the limit are accepted', () => {
    assert.equal(scan(body(item('a', nested(511)))).count, 1);
    const deepest = `${'{"a":'.repeat(511)}{}${'}'.repeat(511)}`;
    const [it] = scan(body(item('a', deepest)), 1).items;
    assert.equal(it!.params.length, Buffer.byteLength(deepest));
  });

  test('params nested deeper than the limit are rejected', () => {
    rejects(
      body(item('a', `${'{"a":'.repeat(512)}{}${'}'.repeat(512)}`)),
      'requests.0.params: nesting deeper than 512 levels',
    );
    rejects(body(item('a', '{"a":[[[{}]]]}')), 'requests.0.params: nesting deeper than 4 levels', {
      maxDepth: 4,
    });
    assert.equal(scan(body(item('a', '{"a":[[{}]]}')), undefined, { maxDepth: 4 }).count, 1);
  });

  test('deep nesting in other places is bounded too', () => {
    rejects(body('['.repeat(600)), 'requests.0: nesting deeper than 512 levels');
    rejects(body(`{"custom_id":${'['.repeat(600)}`), 'requests.0.custom_id: nesting deeper than 512 levels');
    rejects('['.repeat(100_000), 'Input should be a valid dictionary or object');
  });
});

describe('CreateBodyScanner: truncated and malformed bodies', () => {
  test('every proper prefix of a valid body is rejected', () => {
    const bytes = Buffer.from(HAPPY);
    const last = bytes.lastIndexOf('}');
    for (let len = 0; len <= last; len++) {
      const prefix = bytes.subarray(0, len);
      for (const chunking of [undefined, 5]) {
        const err = caught(() => scan(prefix, chunking));
        assert.ok(err instanceof IngestError, `prefix ${len}: ${String(err)}`);
        assert.equal(err.message, 'invalid JSON: unexpected end of body');
      }
    }
  });

  test('the top level must be one JSON object', () => {
    rejects('', 'invalid JSON: unexpected end of body');
    rejects(' \n', 'invalid JSON: unexpected end of body');
    rejects('x', "invalid JSON at byte 0: unexpected character 'x'");
    rejects(`\ufeff${body(item('a'))}`, 'invalid JSON at byte 0: unexpected byte 0xef');
    rejects('[]', 'Input should be a valid dictionary or object');
    rejects('"requests"', 'Input should be a valid dictionary or object');
    rejects('null', 'Input should be a valid dictionary or object');
    rejects(
      `${body(item('a'))} x`,
      "invalid JSON at byte 45: unexpected character 'x' after the top-level object",
    );
    rejects(
      `${body(item('a'))}{}`,
      "invalid JSON at byte 44: unexpected character '{' after the top-level object",
    );
    rejects(
      `${body(item('a'))}\f`,
      'invalid JSON at byte 44: unexpected byte 0x0c after the top-level object',
    );
  });

  test('structural syntax errors name the byte', () => {
    rejects('{"requests" [', "invalid JSON at byte 12: unexpected character '['");
    rejects(
      '{"requests":[{"custom_id":"a","params":{}},]}',
      "invalid JSON at byte 43: unexpected character ']'",
    );
    rejects(
      '{"requests":[{"custom_id":"a","params":{}};]}',
      "invalid JSON at byte 42: unexpected character ';'",
    );
    rejects(
      '{"requests":[{"custom_id":"a","params":{}}],}',
      "invalid JSON at byte 44: unexpected character '}'",
    );
    rejects('{"requests":[{"custom_id":"a",}]}', "invalid JSON at byte 30: unexpected character '}'");
    rejects('{"requests":[{"custom_id" "a"}]}', "invalid JSON at byte 26: unexpected character '\"'");
    rejects('{"requests":[{custom_id:"a"}]}', "invalid JSON at byte 14: unexpected character 'c'");
    rejects("{'requests':[]}", "invalid JSON at byte 1: unexpected character '''");
    rejects('{"requests"\u000b:[]}', 'invalid JSON at byte 11: unexpected byte 0x0b');
    rejects(
      '{"requests":[{"custom_id":"a","params":{}}\u00a0]}',
      'invalid JSON at byte 42: unexpected byte 0xc2',
    );
    rejects('{"requ\\x":[]}', /^invalid JSON at byte 7: unexpected character 'x'$/);
    rejects(
      '{"requests":[{"custom_id":"a","params":{}}] /* c */}',
      "invalid JSON at byte 44: unexpected character '/'",
    );
  });

  test('invalid JSON inside params names the absolute byte', () => {
    const prefix = '{"requests":[{"custom_id":"a","params":';
    const at = (params: string, offset: number, what: string) =>
      rejects(
        `${prefix}${params}}]}`,
        `invalid JSON at byte ${Buffer.byteLength(prefix) + offset}: unexpected ${what}`,
      );
    at('{"a":tru}', 8, "character '}'");
    at('{"a":1,}', 7, "character '}'");
    at('{"a" 1}', 5, "character '1'");
    at("{'a':1}", 1, "character '''");
    at('{"a":01}', 6, "character '1'");
    at('{"a":-}', 6, "character '}'");
    at('{"a":1.}', 7, "character '}'");
    at('{"a":"\\x"}', 7, "character 'x'");
    at('{"a":"\\u12G4"}', 10, "character 'G'");
    at('{"a":"tab\there"}', 9, 'byte 0x09');
    at('{"é":"日本", "b":x}', 20, "character 'x'");
    at('{"a":[}', 6, "character '}'");
    at('{"a":{]}', 6, "character ']'");
    at('{"a":[1 2]}', 8, "character '2'");
    at('{"a":NaN}', 5, "character 'N'");
    at('{"a":1}x', 7, "character 'x'");
  });

  test('invalid UTF-8 is rejected', () => {
    const bad = (s: string) =>
      Buffer.concat(
        s.split('%').flatMap((p, i) => (i ? [Buffer.from([0xff]), Buffer.from(p)] : [Buffer.from(p)])),
      );
    rejects(bad(body(item('a', '{"a":"%"}'))), 'requests.0.params: invalid UTF-8 in request body');
    // a truncated 3-byte sequence, then an overlong encoding of '/'
    for (const seq of [
      [0xe6, 0x97],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
    ]) {
      rejects(
        Buffer.concat([
          Buffer.from('{"requests":[{"custom_id":"a","params":{"a":"'),
          Buffer.from(seq),
          Buffer.from('"}}]}'),
        ]),
        'requests.0.params: invalid UTF-8 in request body',
      );
    }
    rejects(
      bad(body('{"custom_id":"a%","params":{}}')),
      'requests.0.custom_id: invalid UTF-8 in request body',
    );
    rejects(bad('{"requests%":[]}'), 'object key: invalid UTF-8 in request body');
    rejects(bad(body('{"custom_id":"a","params%":{}}')), 'requests.0 key: invalid UTF-8 in request body');
    rejects(bad(body(item('a', '{"a":1}%'))), 'invalid JSON at byte 46: unexpected byte 0xff');
  });

  test('errors are sticky', () => {
    const scanner = new CreateBodyScanner();
    const first = caught(() => scanner.push(Buffer.from('{"requests":[x')));
    assert.ok(first instanceof IngestError);
    assert.equal(
      caught(() => scanner.push(Buffer.from(']}'))),
      first,
    );
    assert.equal(
      caught(() => scanner.end()),
      first,
    );
  });
});

describe('CreateBodyScanner: validation rules', () => {
  test('requests is required and is the only top-level key', () => {
    rejects('{}', 'requests: Field required');
    rejects(' { } ', 'requests: Field required');
    rejects(`{"model":"x",${body(item('a')).slice(1)}`, 'model: Extra inputs are not permitted');
    rejects(`${body(item('a')).slice(0, -1)},"model":"x"}`, 'model: Extra inputs are not permitted');
    rejects('{"__proto__":{}}', '__proto__: Extra inputs are not permitted');
    rejects('{"":0}', ': Extra inputs are not permitted');
    rejects(`{"${'k'.repeat(2000)}":0}`, /^invalid request body: a top-level key is longer than 1024 bytes/);
    rejects(`{"${'k'.repeat(200)}":0}`, `${'k'.repeat(100)}…: Extra inputs are not permitted`);
    rejects(`${body(item('a')).slice(0, -1)},"requests":[]}`, 'requests: duplicate key in object');
    rejects(`${body(item('a')).slice(0, -1)},"requ\\u0065sts":[]}`, 'requests: duplicate key in object');
  });

  test('requests is a list of 1 to maxItems items', () => {
    rejects('{"requests":{}}', 'requests: Input should be a valid list');
    rejects('{"requests":null}', 'requests: Input should be a valid list');
    rejects('{"requests":"a"}', 'requests: Input should be a valid list');
    rejects('{"requests":[]}', 'requests: List should have at least 1 item after validation, not 0');
    rejects('{"requests":[ \n ]}', 'requests: List should have at least 1 item after validation, not 0');
    const three = body(item('a'), item('b'), item('c'));
    assert.equal(scan(three, undefined, { maxItems: 3 }).count, 3);
    rejects(
      body(item('a'), item('b'), item('c'), item('d')),
      'requests: List should have at most 3 items after validation',
      {
        maxItems: 3,
      },
    );
  });

  test('too many items is reported as soon as the extra item starts', () => {
    const text = body(item('a'), item('b'), item('c'), item('d'));
    const start = text.lastIndexOf('{"custom_id"');
    const scanner = new CreateBodyScanner({ maxItems: 3 });
    assert.equal(scanner.push(Buffer.from(text.slice(0, start))).length, 3);
    const err = caught(() => scanner.push(Buffer.from('{')));
    assert.ok(err instanceof IngestError);
    assert.equal(err.message, 'requests: List should have at most 3 items after validation');
  });

  test('each item is an object with exactly custom_id and params', () => {
    rejects(body('1'), 'requests.0: Input should be a valid dictionary or object');
    rejects(body(item('a'), '"b"'), 'requests.1: Input should be a valid dictionary or object');
    rejects(
      body(item('a'), '[{"custom_id":"b","params":{}}]'),
      'requests.1: Input should be a valid dictionary or object',
    );
    rejects(body('null'), 'requests.0: Input should be a valid dictionary or object');
    rejects(body('tru'), "invalid JSON at byte 16: unexpected character ']'");
    rejects(body('nul '), "invalid JSON at byte 16: unexpected character ' '");
    rejects(body('{}'), 'requests.0.custom_id: Field required');
    rejects(body('{"params":{}}'), 'requests.0.custom_id: Field required');
    rejects(body(item('a'), '{"custom_id":"b"}'), 'requests.1.params: Field required');
    rejects(
      body('{"custom_id":"a","params":{},"extra":1}'),
      'requests.0.extra: Extra inputs are not permitted',
    );
    rejects(
      body('{"method":"POST","custom_id":"a","params":{}}'),
      'requests.0.method: Extra inputs are not permitted',
    );
    rejects(
      body('{"__proto__":{},"custom_id":"a","params":{}}'),
      'requests.0.__proto__: Extra inputs are not permitted',
    );
    rejects(
      body('{"custom_id":"a","custom_id":"b","params":{}}'),
      'requests.0.custom_id: duplicate key in object',
    );
    rejects(
      body('{"custom_id":"a","params":{},"p\\u0061rams":{}}'),
      'requests.0.params: duplicate key in object',
    );
    assert.equal(({} as Record<string, unknown>).custom_id, undefined);
  });

  test('custom_id is a string matching ^[a-zA-Z0-9_-]{1,64}$', () => {
    const pattern = "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'";
    for (const v of ['1', 'null', 'true', '{}', '["a"]', '1.5']) {
      rejects(body(`{"custom_id":${v},"params":{}}`), 'requests.0.custom_id: Input should be a valid string');
    }
    rejects(body(item('')), 'requests.0.custom_id: String should have at least 1 character');
    rejects(body(item('x'.repeat(65))), 'requests.0.custom_id: String should have at most 64 characters');
    rejects(
      body(item(`${'é'.repeat(65)}`)),
      'requests.0.custom_id: String should have at most 64 characters',
    );
    rejects(body(item('é'.repeat(64))), pattern);
    rejects(body(item('a b')), pattern);
    rejects(body(item('a.b')), pattern);
    rejects(body(item('a/b')), pattern);
    rejects(body(item('a\n')), pattern);
    rejects(body('{"custom_id":"a\\u0020b","params":{}}'), pattern);
    rejects(
      body(item('a'), item('b'), item('a')),
      'requests.2.custom_id: duplicate custom_id "a": custom_id must be unique within the batch',
    );
    rejects(
      body(item('a'), '{"custom_id":"\\u0061","params":{}}'),
      /^requests\.1\.custom_id: duplicate custom_id "a"/,
    );
    rejects(body('{"custom_id":"a\\x","params":{}}'), /^invalid JSON at byte 29: unexpected character 'x'$/);
  });

  test('params must be a JSON object', () => {
    for (const v of ['[]', '[{}]', '"x"', '1', '-0.5e3', 'null', 'true', 'false', ' "{}" ']) {
      rejects(body(item('a', v)), 'requests.0.params: Input should be a valid dictionary');
    }
    rejects(body(item('a', '1x')), "invalid JSON at byte 40: unexpected character 'x'");
    rejects(body(item('a', '-')), "invalid JSON at byte 40: unexpected character '}'");
    rejects(body(item('a', 'tru')), /^invalid JSON at byte 42: unexpected character '}'$/);
  });

  test('an item larger than maxItemBytes is rejected', () => {
    const small = item('a', '{"k":"xxxx"}'); // 39 bytes
    assert.equal(Buffer.byteLength(small), 39);
    assert.equal(scan(body(small), undefined, { maxItemBytes: 39 }).count, 1);
    assert.equal(scan(body(small), 1, { maxItemBytes: 39 }).count, 1);
    rejects(body(small), 'requests.0: request is larger than the 38-byte limit', { maxItemBytes: 38 });
    rejects(body(item('b'), small), 'requests.1: request is larger than the 38-byte limit', {
      maxItemBytes: 38,
    });
    rejects(
      body('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]'),
      'requests.0: request is larger than the 20-byte limit',
      {
        maxItemBytes: 20,
      },
    );
  });

  test('an oversized item is rejected while it streams, before it is complete', () => {
    const bytes = Buffer.from(body(item('a', `{"k":"${'x'.repeat(10_000)}"}`)));
    const scanner = new CreateBodyScanner({ maxItemBytes: 100 });
    let pushed = 0;
    const err = caught(() => {
      for (const chunk of chunksOf(bytes, 10)) {
        scanner.push(chunk);
        pushed += chunk.length;
      }
    });
    assert.ok(err instanceof IngestError);
    assert.equal(err.message, 'requests.0: request is larger than the 100-byte limit');
    assert.ok(pushed <= 13 + 100, `pushed ${pushed} bytes before the error`);
  });

  test('limits are checked', () => {
    assert.throws(() => new CreateBodyScanner({ maxDepth: 0 }), RangeError);
    assert.throws(() => new CreateBodyScanner({ maxItems: 1.5 }), RangeError);
  });
});

// A small seeded PRNG (mulberry32), so failures reproduce.
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const WS = ['', '', '', ' ', '\n', '\t', '\r\n  '];
const STRING_PIECES = [
  'a',
  'Z',
  'é',
  '日本',
  '😀',
  '\\"',
  '\\\\',
  '\\n',
  '\\u00e9',
  '\\ud83d\\ude00',
  ' ',
  '/',
  '\\/',
  '{',
  '}',
  '[',
  ']',
  ',',
  ':',
  '__proto__',
];

function genString(rand: (n: number) => number): string {
  let s = '"';
  for (let k = rand(6); k > 0; k--) s += STRING_PIECES[rand(STRING_PIECES.length)];
  return `${s}"`;
}

function genValue(rand: (n: number) => number, depth: number): string {
  const w = () => WS[rand(WS.length)]!;
  switch (depth > 5 ? rand(4) : rand(7)) {
    case 0:
      return ['0', '-1', '12.5', '1e10', '-0.25E-3', '123456789012345678901234567890'][rand(6)]!;
    case 1:
      return genString(rand);
    case 2:
      return ['true', 'false', 'null'][rand(3)]!;
    case 3:
      return genString(rand);
    case 4: {
      const parts: string[] = [];
      for (let k = rand(4); k > 0; k--) parts.push(`${w()}${genValue(rand, depth + 1)}${w()}`);
      return `[${parts.join(',')}${parts.length ? '' : w()}]`;
    }
    default:
      return genObject(rand, depth + 1);
  }
}

function genObject(rand: (n: number) => number, depth: number): string {
  const w = () => WS[rand(WS.length)]!;
  const parts: string[] = [];
  for (let k = rand(4); k > 0; k--)
    parts.push(`${w()}${genString(rand)}${w()}:${w()}${genValue(rand, depth)}${w()}`);
  return `{${parts.join(',')}${parts.length ? '' : w()}}`;
}

function genBody(rand: (n: number) => number): { text: string; params: string[]; ids: string[] } {
  const params: string[] = [];
  const ids: string[] = [];
  const items: string[] = [];
  for (let k = 1 + rand(4); k > 0; k--) {
    const p = genObject(rand, 1);
    const id = `id-${ids.length}_${rand(1000)}`;
    params.push(p);
    ids.push(id);
    items.push(
      rand(2)
        ? `{"custom_id":${WS[rand(WS.length)]}"${id}","params":${p}}`
        : `{ "params" :${p} ,"custom_id":"${id}"}`,
    );
  }
  return {
    text: `${WS[rand(WS.length)]}{"requests":[${items.join(',')}]}${WS[rand(WS.length)]}`,
    params,
    ids,
  };
}

function depthOf(v: unknown): number {
  if (v === null || typeof v !== 'object') return 0;
  let max = 0;
  for (const x of Object.values(v)) max = Math.max(max, depthOf(x));
  return max + 1;
}

/** What a whole-body JSON.parse plus the rules would say (duplicate keys aside, which mutations do not create). */
function reference(bytes: Buffer, maxDepth: number): { customId: string; params: unknown }[] | null {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes));
  } catch {
    return null;
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(value) || Object.keys(value).join() !== 'requests' || !Array.isArray(value.requests))
    return null;
  if (value.requests.length === 0) return null;
  const seen = new Set<string>();
  const out: { customId: string; params: unknown }[] = [];
  for (const it of value.requests) {
    if (!isObject(it) || Object.keys(it).sort().join() !== 'custom_id,params') return null;
    const id = it.custom_id;
    if (typeof id !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(id) || seen.has(id)) return null;
    seen.add(id);
    if (!isObject(it.params) || depthOf(it.params) > maxDepth) return null;
    out.push({ customId: id, params: it.params });
  }
  return out;
}

describe('CreateBodyScanner: generated bodies', () => {
  test('random valid bodies in random chunks yield their exact params', () => {
    const rand = prng(1);
    for (let round = 0; round < 300; round++) {
      const g = genBody(rand);
      const bytes = Buffer.from(g.text);
      const cuts = [...new Set(Array.from({ length: rand(6) }, () => rand(bytes.length + 1)))].sort(
        (a, b) => a - b,
      );
      const r = scan(bytes, cuts);
      assert.deepEqual(
        r.items.map((it) => [it.customId, it.params.toString()]),
        g.params.map((p, i) => [g.ids[i], p]),
        `round ${round}: ${g.text}`,
      );
    }
  });

  test('single-byte mutations: accepted exactly when JSON.parse and the rules accept', () => {
    const rand = prng(2);
    const alphabet = Buffer.from('{}[]",:\\ \t\n0123456789aeE.-+tfnrlsux_/');
    const extra = [0x00, 0x0c, 0x7f, 0x80, 0xc3, 0xe6, 0xef, 0xff];
    const maxDepth = 6;
    let accepted = 0;
    for (let round = 0; round < 3000; round++) {
      const g = genBody(rand);
      const src = Buffer.from(g.text);
      const at = rand(src.length);
      const byte = rand(5) === 0 ? extra[rand(extra.length)]! : alphabet[rand(alphabet.length)]!;
      const op = rand(3);
      const bytes =
        op === 0
          ? Buffer.concat([src.subarray(0, at), Buffer.from([byte]), src.subarray(at + 1)])
          : op === 1
            ? Buffer.concat([src.subarray(0, at), Buffer.from([byte]), src.subarray(at)])
            : Buffer.concat([src.subarray(0, at), src.subarray(at + 1)]);
      const expected = reference(bytes, maxDepth);
      const cuts = [rand(bytes.length + 1)];
      let got: ScanResult | null = null;
      try {
        got = scan(bytes, cuts, { maxDepth });
      } catch (err) {
        assert.ok(err instanceof IngestError, `round ${round}: ${String(err)}`);
      }
      const label = `round ${round}: ${JSON.stringify(bytes.toString('latin1'))}`;
      if (expected === null) {
        assert.equal(got, null, `accepted an invalid body, ${label}`);
        continue;
      }
      assert.ok(got, `rejected a valid body, ${label}`);
      accepted++;
      assert.deepEqual(
        got.items.map((it) => ({ customId: it.customId, params: JSON.parse(it.params.toString()) })),
        expected,
        label,
      );
    }
    assert.ok(accepted > 100, `only ${accepted} mutated bodies stayed valid`);
  });
});
