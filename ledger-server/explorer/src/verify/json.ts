/**
 * The strict JSON of entry.md §1.1 (also used for evidence.md §1): RFC 8259
 * exactly, the four whitespace bytes, escapes and surrogate pairs as specified,
 * no duplicate keys, depth at most 32, numbers below 10^308 in magnitude.
 * Input is text already decoded as strict UTF-8.
 */
import { fail } from './bytes';

export type Json = null | boolean | JsonNumber | string | Json[] | JsonObject;
/** A number keeps its exact text: the ledger uses only `v`'s value. */
export interface JsonNumber {
  kind: 'number';
  text: string;
}
export type JsonObject = Map<string, Json>;

export const MAX_DEPTH = 32;

class Parser {
  at = 0;
  constructor(readonly s: string) {}

  err(what: string): never {
    fail('bad_json', `${what} at character ${this.at}`);
  }

  ws(): void {
    while (this.at < this.s.length && ' \t\n\r'.includes(this.s[this.at])) this.at++;
  }

  value(depth: number): Json {
    this.ws();
    const c = this.s[this.at];
    if (c === '{') return this.object(depth + 1);
    if (c === '[') return this.array(depth + 1);
    if (c === '"') return this.string();
    for (const [lit, v] of [['true', true], ['false', false], ['null', null]] as const) {
      if (this.s.startsWith(lit, this.at)) {
        this.at += lit.length;
        return v;
      }
    }
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    return this.err('unexpected character');
  }

  object(depth: number): JsonObject {
    if (depth > MAX_DEPTH) this.err(`nesting deeper than ${MAX_DEPTH}`);
    this.at++;
    const out: JsonObject = new Map();
    this.ws();
    if (this.s[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s[this.at] !== '"') this.err('expected a key');
      const key = this.string();
      if (out.has(key)) this.err(`duplicate key ${JSON.stringify(key)}`);
      this.ws();
      if (this.s[this.at++] !== ':') this.err('expected ":"');
      out.set(key, this.value(depth));
      this.ws();
      const c = this.s[this.at++];
      if (c === '}') return out;
      if (c !== ',') this.err('expected "," or "}"');
    }
  }

  array(depth: number): Json[] {
    if (depth > MAX_DEPTH) this.err(`nesting deeper than ${MAX_DEPTH}`);
    this.at++;
    const out: Json[] = [];
    this.ws();
    if (this.s[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.s[this.at++];
      if (c === ']') return out;
      if (c !== ',') this.err('expected "," or "]"');
    }
  }

  hex4(): number {
    const h = this.s.slice(this.at, this.at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) this.err('bad \\u escape');
    this.at += 4;
    return parseInt(h, 16);
  }

  string(): string {
    this.at++;
    let out = '';
    for (;;) {
      if (this.at >= this.s.length) this.err('unterminated string');
      const c = this.s[this.at++];
      if (c === '"') return out;
      if (c < ' ') this.err('raw control character in a string');
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.s[this.at++];
      const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
      if (e in simple) out += simple[e];
      else if (e === 'u') out += this.unicodeEscape();
      else this.err('bad escape');
    }
  }

  unicodeEscape(): string {
    const u = this.hex4();
    if (u >= 0xdc00 && u <= 0xdfff) this.err('lone low surrogate');
    if (u < 0xd800 || u > 0xdbff) return String.fromCharCode(u);
    if (this.s.slice(this.at, this.at + 2) !== '\\u') this.err('high surrogate without its low surrogate');
    this.at += 2;
    const lo = this.hex4();
    if (lo < 0xdc00 || lo > 0xdfff) this.err('high surrogate without its low surrogate');
    return String.fromCharCode(u, lo);
  }

  number(): JsonNumber {
    const m = /^-?(0|[1-9][0-9]*)(\.([0-9]+))?([eE]([+-]?)([0-9]+))?/.exec(this.s.slice(this.at));
    if (!m) return this.err('bad number');
    this.at += m[0].length;
    const mag = magnitudeExponent(m[1], m[3] ?? '', m[5] === '-', m[6] ?? '0');
    if (mag !== null && mag >= 308n) this.err('number of magnitude 10^308 or more');
    return { kind: 'number', text: m[0] };
  }
}

/** The power of ten of a number's leading digit, or null for zero. */
function magnitudeExponent(int: string, frac: string, negExp: boolean, exp: string): bigint | null {
  const e = (negExp ? -1n : 1n) * BigInt(exp);
  const i = int.replace(/^0+/, '');
  if (i !== '') return BigInt(i.length - 1) + e;
  const p = frac.search(/[1-9]/);
  return p < 0 ? null : BigInt(-(p + 1)) + e;
}

/**
 * Parses one JSON value with nothing but whitespace around it.
 *
 * @throws VerifyError `bad_json`
 */
export function parseJson(text: string): Json {
  const p = new Parser(text);
  const v = p.value(0);
  p.ws();
  if (p.at !== text.length) p.err('bytes after the value');
  return v;
}

export function isObject(v: Json | undefined): v is JsonObject {
  return v instanceof Map;
}

/** Pretty-printed JSON for display, numbers exactly as written (never rounded through a double). */
export function stringifyJson(v: Json, indent = ''): string {
  const inner = indent + '  ';
  if (v instanceof Map) {
    if (v.size === 0) return '{}';
    return `{\n${[...v].map(([k, x]) => `${inner}${JSON.stringify(k)}: ${stringifyJson(x, inner)}`).join(',\n')}\n${indent}}`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + stringifyJson(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v !== null && typeof v === 'object') return v.text;
  return JSON.stringify(v);
}

/** Plain JavaScript form (numbers as doubles: for reading fields, not for display). */
export function toPlain(v: Json): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, toPlain(x)]));
  if (Array.isArray(v)) return v.map(toPlain);
  if (v !== null && typeof v === 'object') return Number(v.text);
  return v;
}
