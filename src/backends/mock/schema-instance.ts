import { isJsonObject as isObj, type JsonObject } from '../../wire/json-object.ts';
import { fillerWord } from './filler-text.ts';
import type { Prng } from './prng.ts';

// A small, deterministic JSON Schema instance generator for tool inputs. It covers what tool schemas use in
// practice (object/array/scalar types, enum, const, default, bounds, lengths, formats, anyOf/oneOf/allOf, local
// $ref); anything it does not understand yields `{}`. Optional properties are filled too (near the root), so
// the caller sees a fully populated input.

type Obj = JsonObject;

const MAX_DEPTH = 12;
const OPTIONAL_DEPTH = 4; // below this, only required properties are generated (keeps recursive schemas small)

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** Resolves `#/…` JSON pointers against the root schema. */
function resolveRef(ref: string, root: Obj): unknown {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/')) {
    if (raw === '') continue;
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObj(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return node;
}

function typeOf(s: Obj): string | undefined {
  const t = s.type;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    return (t.find((x) => x !== 'null') as string | undefined) ?? (t.length ? 'null' : undefined);
  }
  if (isObj(s.properties) || Array.isArray(s.required)) return 'object';
  if (s.items !== undefined || Array.isArray(s.prefixItems)) return 'array';
  if (typeof s.format === 'string' || s.minLength !== undefined || s.pattern !== undefined) return 'string';
  if (s.minimum !== undefined || s.maximum !== undefined) return 'number';
  return undefined;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : `${n}`;
}

function hex(rng: Prng, digits: number): string {
  let out = '';
  while (out.length < digits) out += rng.u32().toString(16).padStart(8, '0');
  return out.slice(0, digits);
}

function stringFor(s: Obj, rng: Prng, name: string): string {
  const date = `2025-${pad2(1 + rng.int(12))}-${pad2(1 + rng.int(28))}`;
  const time = `${pad2(rng.int(24))}:${pad2(rng.int(60))}:00`;
  let v: string;
  switch (s.format) {
    case 'date-time':
      v = `${date}T${time}Z`;
      break;
    case 'date':
      v = date;
      break;
    case 'time':
      v = `${time}Z`;
      break;
    case 'email':
    case 'idn-email':
      v = `user${rng.int(1000)}@example.com`;
      break;
    case 'uri':
    case 'url':
    case 'iri':
    case 'uri-reference':
    case 'iri-reference':
      v = `https://example.com/${fillerWord(rng)}`;
      break;
    case 'uuid': {
      const h = hex(rng, 32);
      v = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
      break;
    }
    case 'hostname':
    case 'idn-hostname':
      v = `host${rng.int(100)}.example.com`;
      break;
    case 'ipv4':
      v = `192.0.2.${1 + rng.int(254)}`;
      break;
    case 'ipv6':
      v = `2001:db8::${hex(rng, 4)}`;
      break;
    default:
      v = name ? `${name} ${fillerWord(rng)}` : `${fillerWord(rng)} ${fillerWord(rng)}`;
  }
  const min = num(s.minLength) ?? 0;
  const max = num(s.maxLength);
  while (v.length < min) v += 'x'.repeat(min - v.length);
  if (max !== undefined && [...v].length > max) v = [...v].slice(0, max).join('');
  return v;
}

function numberFor(s: Obj, rng: Prng, integer: boolean): number {
  // Draft 4 spells exclusive bounds as booleans next to minimum/maximum; later drafts as numbers.
  let lo = num(s.minimum);
  let hi = num(s.maximum);
  let loOpen = s.exclusiveMinimum === true;
  let hiOpen = s.exclusiveMaximum === true;
  const xlo = num(s.exclusiveMinimum);
  const xhi = num(s.exclusiveMaximum);
  if (xlo !== undefined && (lo === undefined || xlo >= lo)) [lo, loOpen] = [xlo, true];
  if (xhi !== undefined && (hi === undefined || xhi <= hi)) [hi, hiOpen] = [xhi, true];
  if (integer) {
    if (lo !== undefined) lo = loOpen ? Math.floor(lo) + 1 : Math.ceil(lo);
    if (hi !== undefined) hi = hiOpen ? Math.ceil(hi) - 1 : Math.floor(hi);
    let v: number;
    if (lo !== undefined && hi !== undefined) v = hi < lo ? lo : lo + rng.int(Math.min(hi - lo, 1000) + 1);
    else if (lo !== undefined) v = lo + rng.int(100);
    else if (hi !== undefined) v = hi - rng.int(100);
    else v = rng.int(100);
    const step = num(s.multipleOf);
    if (step !== undefined && step > 0 && Number.isInteger(step)) {
      const up = Math.ceil(v / step) * step;
      v = hi !== undefined && up > hi ? Math.floor(v / step) * step : up;
    }
    return v;
  }
  if (lo !== undefined && hi !== undefined) return (lo + hi) / 2;
  if (lo !== undefined) return lo + 1 + rng.int(1000) / 10;
  if (hi !== undefined) return hi - 1 - rng.int(1000) / 10;
  return rng.int(1000) / 10;
}

function merged(s: Obj, parts: unknown[]): Obj {
  const out: Obj = { ...s };
  delete out.allOf;
  const props: Obj = isObj(s.properties) ? { ...s.properties } : {};
  const required = new Set<unknown>(Array.isArray(s.required) ? s.required : []);
  for (const p of parts) {
    if (!isObj(p)) continue;
    for (const [k, v] of Object.entries(p)) {
      if (k === 'properties' && isObj(v)) Object.assign(props, v);
      else if (k === 'required' && Array.isArray(v)) for (const r of v) required.add(r);
      else if (!(k in out)) out[k] = v;
    }
  }
  if (Object.keys(props).length) out.properties = props;
  if (required.size) out.required = [...required];
  return out;
}

function generate(schema: unknown, root: Obj, rng: Prng, depth: number, name: string): unknown {
  if (!isObj(schema) || depth > MAX_DEPTH) return {};
  const s = schema;
  if ('const' in s) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return rng.pick(s.enum);
  if (s.default !== undefined) return s.default;
  if (typeof s.$ref === 'string') return generate(resolveRef(s.$ref, root), root, rng, depth + 1, name);
  if (Array.isArray(s.anyOf) && s.anyOf.length > 0) return generate(s.anyOf[0], root, rng, depth + 1, name);
  if (Array.isArray(s.oneOf) && s.oneOf.length > 0) return generate(s.oneOf[0], root, rng, depth + 1, name);
  if (Array.isArray(s.allOf) && s.allOf.length > 0) {
    return generate(merged(s, s.allOf), root, rng, depth + 1, name);
  }
  switch (typeOf(s)) {
    case 'object':
      return objectFor(s, root, rng, depth);
    case 'array':
      return arrayFor(s, root, rng, depth, name);
    case 'string':
      return stringFor(s, rng, name);
    case 'integer':
      return numberFor(s, rng, true);
    case 'number':
      return numberFor(s, rng, false);
    case 'boolean':
      return rng.int(2) === 1;
    case 'null':
      return null;
    default:
      return {};
  }
}

function objectFor(s: Obj, root: Obj, rng: Prng, depth: number): Obj {
  const out: Obj = {};
  const props = isObj(s.properties) ? s.properties : {};
  const required = Array.isArray(s.required)
    ? s.required.filter((r): r is string => typeof r === 'string')
    : [];
  for (const key of Object.keys(props)) {
    if (depth < OPTIONAL_DEPTH || required.includes(key)) {
      out[key] = generate(props[key], root, rng, depth + 1, key);
    }
  }
  for (const key of required) {
    if (key in out) continue;
    const extra = isObj(s.additionalProperties) ? s.additionalProperties : { type: 'string' };
    out[key] = generate(extra, root, rng, depth + 1, key);
  }
  return out;
}

function arrayFor(s: Obj, root: Obj, rng: Prng, depth: number, name: string): unknown[] {
  const min = num(s.minItems) ?? 0;
  const max = num(s.maxItems);
  const tuple = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : null;
  let n = Math.max(min, tuple ? tuple.length : 1);
  if (max !== undefined) n = Math.min(n, max);
  const itemSchema = tuple ? (isObj(s.items) ? s.items : {}) : s.items;
  const out: unknown[] = [];
  const seen = new Set<string>();
  // uniqueItems: retry a few draws so enum/boolean items do not repeat when enough distinct values exist
  for (let tries = 0; out.length < n && tries < n * 4; tries++) {
    const i = out.length;
    const v = generate(tuple && i < tuple.length ? tuple[i] : itemSchema, root, rng, depth + 1, name);
    if (s.uniqueItems === true) {
      const key = JSON.stringify(v);
      if (seen.has(key)) continue;
      seen.add(key);
    }
    out.push(v);
  }
  return out;
}

/** A value that satisfies `schema` (a tool's `input_schema`), drawn deterministically from `rng`. */
export function schemaInstance(schema: unknown, rng: Prng): unknown {
  return isObj(schema) ? generate(schema, schema, rng, 0, '') : {};
}
