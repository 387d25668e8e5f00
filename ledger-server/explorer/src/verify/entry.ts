/**
 * Entries (spec/entry.md): the envelope (§2), its canonical decoding, the
 * statement's strict parsing (§1), the agency signature (§3.2) and the payload
 * commitment (§4).
 */
import { sha256 } from '@noble/hashes/sha2';
import { concat, decodeUtf8, equal, fail, fromHex, readU64, toHex, utf8 } from './bytes';
import { verifyStatement } from './ed25519';
import { isObject, parseJson, toPlain, type Json, type JsonObject } from './json';
import { isOrigin } from './note';

export const MAX_ENVELOPE = 65535;
export const MAX_STATEMENT = 65379;
export const STATEMENT_LABEL = utf8('egov-ledger/v1/statement\0');
export const PAYLOAD_LABEL = utf8('egov-ledger/v1/payload\0');

/** A decoded envelope (entry.md §2.1). */
export interface Envelope {
  index: bigint;
  sequencedAtMs: bigint;
  prev: Uint8Array;
  agencyPrev: bigint | null;
  statementBytes: Uint8Array;
  keyHash: Uint8Array;
  signature: Uint8Array;
  bytes: Uint8Array;
}

/**
 * Decodes an envelope canonically (entry.md §2.2).
 *
 * @throws VerifyError `bad_entry`
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_ENVELOPE) fail('bad_entry', `longer than ${MAX_ENVELOPE} bytes`);
  const need = (n: number) => {
    if (at + n > bytes.length) fail('bad_entry', 'ends before the signature');
  };
  let at = 0;
  need(50);
  if (bytes[0] !== 0x01) fail('bad_entry', `version ${bytes[0]}, expected 1`);
  const index = readU64(bytes, 1);
  const sequencedAtMs = readU64(bytes, 9);
  const prev = bytes.slice(17, 49);
  const tag = bytes[49];
  at = 50;
  let agencyPrev: bigint | null = null;
  if (tag === 0x01) {
    need(8);
    agencyPrev = readU64(bytes, 50);
    at += 8;
  } else if (tag !== 0x00) fail('bad_entry', `agency_prev tag ${tag}`);
  need(2);
  const n = (bytes[at] << 8) | bytes[at + 1];
  at += 2;
  if (n === 0 || n > MAX_STATEMENT) fail('bad_entry', `statement length ${n}`);
  need(n + 96);
  const statementBytes = bytes.slice(at, at + n);
  const keyHash = bytes.slice(at + n, at + n + 32);
  const signature = bytes.slice(at + n + 32, at + n + 96);
  if (at + n + 96 !== bytes.length) fail('bad_entry', 'bytes after the signature');
  if (index === 0n && prev.some((b) => b !== 0)) fail('bad_entry', 'entry 0 with a non-zero prev');
  if (agencyPrev !== null && agencyPrev >= index) fail('bad_entry', 'agency_prev is not smaller than index');
  return { index, sequencedAtMs, prev, agencyPrev, statementBytes, keyHash, signature, bytes };
}

export type Channel = 'G2C' | 'G2B' | 'G2G';

/** A statement that passed entry.md §1 (version 1). */
export interface Statement {
  origin: string;
  agency: string;
  submissionId: string;
  type: string;
  channel: Channel;
  occurredAt: string;
  subject: string | null;
  object: JsonObject;
  payloadCommitment: string | null;
  /** The object as plain JavaScript, for display. */
  objectPlain: Record<string, unknown>;
}

const FIELDS = ['v', 'origin', 'agency', 'submission_id', 'type', 'channel', 'occurred_at', 'subject', 'object', 'payload_commitment'];
const FAMILIES = ['decision', 'service', 'transfer', 'access', 'registry'];
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** Text of 1–max bytes with no control character (entry.md §1.4). */
export function isText(s: string, max: number): boolean {
  const n = utf8(s).length;
  return n >= 1 && n <= max && !CONTROL.test(s);
}

export const isAgencyId = (s: string) => s.length <= 64 && /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(s);
export const isSubmissionId = (s: string) => /^[A-Za-z0-9._:/-]{1,128}$/.test(s);
export function isType(s: string): boolean {
  const segs = s.split('.');
  return s.length <= 128 && segs.length >= 2 && segs.length <= 8 && segs.every((g) => /^[a-z0-9_]+$/.test(g)) && FAMILIES.includes(segs[0]);
}

/** An RFC 3339 time in exactly the form of entry.md §1.5. */
export function isTime(s: string): boolean {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,19})?Z$/.exec(s);
  if (!m || s.length > 40) return false;
  const [y, mo, d, h, mi, sec] = m.slice(1, 7).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59) return false;
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo - 1];
  if (d > days) return false;
  return sec <= 59 || (sec === 60 && h === 23 && mi === 59 && d === days);
}

function str(obj: JsonObject, key: string, ok: (s: string) => boolean, optional = false): string | null {
  const v = obj.get(key);
  if (v === undefined && optional) return null;
  if (typeof v !== 'string') fail('bad_statement', `${key} is missing or not a string`);
  if (!ok(v)) fail('bad_statement', `${key} is not valid`);
  return v;
}

/**
 * Parses a statement strictly (entry.md §1).
 *
 * @throws VerifyError `bad_statement`, `bad_json`
 */
export function parseStatement(bytes: Uint8Array): Statement {
  if (bytes.length === 0 || bytes.length > MAX_STATEMENT) fail('bad_statement', `length ${bytes.length}`);
  const text = decodeUtf8(bytes);
  if (text === null) fail('bad_statement', 'not valid UTF-8');
  const top: Json = parseJson(text);
  if (!isObject(top)) fail('bad_statement', 'not a JSON object');
  for (const k of top.keys()) if (!FIELDS.includes(k)) fail('bad_statement', `unknown field ${JSON.stringify(k)}`);
  const v = top.get('v');
  if (v === null || typeof v !== 'object' || v instanceof Map || Array.isArray(v) || v.text !== '1')
    fail('bad_statement', 'v is not 1');
  const type = str(top, 'type', isType)!;
  const object = top.get('object');
  if (!isObject(object)) fail('bad_statement', 'object is missing or not an object');
  const payloadCommitment = str(top, 'payload_commitment', (s) => /^[0-9a-f]{64}$/.test(s), true);
  if (type.startsWith('access.') && payloadCommitment !== null) fail('bad_statement', 'an access statement with a payload commitment');
  return {
    origin: str(top, 'origin', isOrigin)!,
    agency: str(top, 'agency', isAgencyId)!,
    submissionId: str(top, 'submission_id', isSubmissionId)!,
    type,
    channel: str(top, 'channel', (s) => ['G2C', 'G2B', 'G2G'].includes(s))! as Channel,
    occurredAt: str(top, 'occurred_at', isTime)!,
    subject: str(top, 'subject', (s) => isText(s, 256), true),
    object,
    payloadCommitment,
    objectPlain: toPlain(object) as Record<string, unknown>,
  };
}

/** SHA-256 of a public key: how an envelope names its signer. */
export const keyHashOf = (key: Uint8Array) => sha256(key);

/** Checks an envelope's agency signature under `key` (entry.md §3.2), which must be the key its key hash names. */
export function verifyEntrySignature(env: Envelope, key: Uint8Array): 'ok' | 'key_mismatch' | 'bad_signature' {
  if (!equal(keyHashOf(key), env.keyHash)) return 'key_mismatch';
  return verifyStatement(key, concat(STATEMENT_LABEL, env.statementBytes), env.signature) ? 'ok' : 'bad_signature';
}

/** hex(SHA-256(label || salt || payload)) (entry.md §4). */
export function payloadCommitment(salt: Uint8Array, payload: Uint8Array): string {
  return toHex(sha256(concat(PAYLOAD_LABEL, salt, payload)));
}

/** Checks a payload and its 32-byte salt (hex) against a commitment, locally. */
export function checkPayload(commitment: string, saltHex: string, payload: Uint8Array): 'ok' | 'bad_salt' | 'mismatch' {
  const salt = fromHex(saltHex.trim());
  if (!salt || salt.length !== 32) return 'bad_salt';
  return payloadCommitment(salt, payload) === commitment ? 'ok' : 'mismatch';
}
