/**
 * Byte helpers with the strict encodings of spec/README.md: canonical padded
 * standard base64 (RFC 4648 §4), lowercase hex, strict UTF-8 (RFC 3629).
 */

/** A verification failure: `code` is stable (it names a translated message), `detail` is for people. */
export class VerifyError extends Error {
  constructor(
    readonly code: string,
    readonly detail: string = '',
  ) {
    super(detail ? `${code}: ${detail}` : code);
  }
}

export function fail(code: string, detail = ''): never {
  throw new VerifyError(code, detail);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Encodes bytes as padded standard base64. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += B64[(n >> 18) & 63] + B64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? B64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? B64[n & 63] : '=';
  }
  return out;
}

/**
 * Decodes canonical padded standard base64: length a multiple of 4, padding only
 * at the end, and unused bits zero (so each byte string has one spelling).
 * Returns null on any other input.
 */
export function fromBase64(text: string): Uint8Array | null {
  if (text.length % 4 !== 0) return null;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    const last = i + 4 === text.length;
    const used = last ? 4 - pad : 4;
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const v = j < used ? (c < 256 ? B64_INDEX[c] : -1) : c === 61 ? 0 : -1;
      if (v < 0) return null;
      n = (n << 6) | v;
    }
    const bytes = [(n >> 16) & 255, (n >> 8) & 255, n & 255];
    for (let j = 0; j < used - 1; j++) out[o++] = bytes[j];
    // Canonical: the bits after the last byte are zero.
    if (used === 2 && (n & 0xffff) !== 0) return null;
    if (used === 3 && (n & 0xff) !== 0) return null;
  }
  return out;
}

/** Lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Decodes hex (either case unless `lowerOnly`); null on odd length or a non-hex digit. */
export function fromHex(text: string, lowerOnly = false): Uint8Array | null {
  const re = lowerOnly ? /^(?:[0-9a-f]{2})*$/ : /^(?:[0-9a-fA-F]{2})*$/;
  if (!re.test(text)) return null;
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

const encoder = new TextEncoder();
const strictDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Strict UTF-8 decoding (RFC 3629): null on overlong forms, surrogates, or anything above U+10FFFF. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictDecoder.decode(bytes);
  } catch {
    return null;
  }
}

/** Canonical unsigned decimal: no sign, no leading zeros (except "0"), at most `max`. */
export function parseDecimal(text: string, max: bigint = 2n ** 64n - 1n): bigint | null {
  if (!/^(0|[1-9][0-9]*)$/.test(text) || text.length > 20) return null;
  const n = BigInt(text);
  return n <= max ? n : null;
}

/** Big-endian unsigned integer of up to 8 bytes. */
export function readU64(bytes: Uint8Array, at: number): bigint {
  let n = 0n;
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(bytes[at + i]);
  return n;
}
