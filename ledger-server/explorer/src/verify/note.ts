/**
 * Signed notes (c2sp.org/signed-note) as profiled by checkpoints-and-tiles.md
 * §1–§3: key names, key IDs, verifier keys, parsing, and opening a note with
 * the keys a verifier trusts.
 *
 *     <text, ending in \n>
 *     <empty line>
 *     — <key name> <base64(key ID || signature)>\n   (1 to 16 lines)
 */
import { sha256 } from '@noble/hashes/sha2';
import { concat, decodeUtf8, fail, fromBase64, toBase64, utf8, readU64 } from './bytes';
import { isValidKey, verifyNote } from './ed25519';

/** Signature types (checkpoints-and-tiles.md §1.3). */
export const TYPE_ED25519 = 0x01;
export const TYPE_COSIGNATURE = 0x04;
export const MAX_NOTE = 65536;
export const MAX_SIGNATURES = 16;

/** A parsed verifier key (checkpoints-and-tiles.md §1.4). */
export interface VerifierKey {
  name: string;
  keyId: number;
  type: number;
  publicKey: Uint8Array;
  /** The canonical string: name, lowercase key ID, base64 of type || key. */
  text: string;
}

/** Unicode White_Space (entry.md §1.4). */
const WHITESPACE = /[\u0009-\u000d\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;
/** Unicode Cc. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;

/** A key name (§1.2): 1–256 bytes, no whitespace, no `+`, no control character. */
export function isKeyName(name: string): boolean {
  const n = utf8(name).length;
  return n >= 1 && n <= 256 && !WHITESPACE.test(name) && !name.includes('+') && !/[\u0000-\u001f\u007f]/.test(name);
}

/** An origin (§1.1): 1–255 bytes, no whitespace, no `+`, no Cc character. */
export function isOrigin(origin: string): boolean {
  const n = utf8(origin).length;
  return n >= 1 && n <= 255 && !WHITESPACE.test(origin) && !origin.includes('+') && !CONTROL.test(origin);
}

/** key ID = first 4 bytes of SHA-256(name || 0x0A || type || key), big-endian (§1.3). */
export function keyId(name: string, type: number, publicKey: Uint8Array): number {
  const h = sha256(concat(utf8(name), new Uint8Array([0x0a, type]), publicKey));
  return ((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0;
}

export function keyIdHex(id: number): string {
  return id.toString(16).padStart(8, '0');
}

/**
 * Parses a verifier key `<name>+<key ID>+base64(type || key)` (§1.4), accepting
 * only the given types.
 *
 * @throws VerifyError `bad_vkey`
 */
export function parseVerifierKey(text: string, types: number[] = [TYPE_ED25519]): VerifierKey {
  if (utf8(text).length > 384) fail('bad_vkey', 'longer than 384 bytes');
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) fail('bad_vkey', 'not <name>+<key ID>+<key>');
  const name = text.slice(0, first);
  const idText = text.slice(first + 1, second);
  if (!isKeyName(name)) fail('bad_vkey', 'invalid key name');
  if (!/^[0-9a-fA-F]{8}$/.test(idText)) fail('bad_vkey', 'the key ID is not 8 hex digits');
  const raw = fromBase64(text.slice(second + 1));
  if (!raw) fail('bad_vkey', 'the key is not canonical base64');
  if (raw.length !== 33) fail('bad_vkey', 'the key is not a type byte and 32 bytes');
  const type = raw[0];
  if (!types.includes(type)) fail('bad_vkey', `key type 0x${type.toString(16).padStart(2, '0')} is not accepted here`);
  const publicKey = raw.slice(1);
  const id = keyId(name, type, publicKey);
  if (id !== parseInt(idText, 16)) fail('bad_vkey', 'the key ID does not match the key');
  if (!isValidKey(publicKey)) fail('bad_vkey', 'not a valid Ed25519 public key (non-canonical or small order)');
  return { name, keyId: id, type, publicKey, text: `${name}+${keyIdHex(id)}+${toBase64(raw)}` };
}

/** One signature line of a note. */
export interface NoteSignature {
  name: string;
  keyId: number;
  /** The bytes after the key ID. */
  sig: Uint8Array;
  line: string;
}

export interface ParsedNote {
  /** The text, including its final newline. */
  text: string;
  textBytes: Uint8Array;
  signatures: NoteSignature[];
}

/**
 * Parses a signed note (§2.1), checking the size first.
 *
 * @throws VerifyError `bad_note`
 */
export function parseNote(bytes: Uint8Array): ParsedNote {
  if (bytes.length > MAX_NOTE) fail('bad_note', `larger than ${MAX_NOTE} bytes`);
  const all = decodeUtf8(bytes);
  if (all === null) fail('bad_note', 'not valid UTF-8');
  if (/[\u0000-\u0009\u000b-\u001f]/.test(all)) fail('bad_note', 'a control character other than newline');
  const split = all.lastIndexOf('\n\n');
  if (split < 0) fail('bad_note', 'no empty line before the signatures');
  const text = all.slice(0, split + 1);
  const sigText = all.slice(split + 2);
  if (sigText === '') fail('bad_note', 'no signature lines');
  if (!sigText.endsWith('\n')) fail('bad_note', 'the last signature line has no newline');
  const lines = sigText.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) fail('bad_note', `more than ${MAX_SIGNATURES} signatures`);
  const signatures = lines.map(parseSignatureLine);
  return { text, textBytes: utf8(text), signatures };
}

function parseSignatureLine(line: string): NoteSignature {
  if (!line.startsWith('\u2014 ')) fail('bad_note', 'a signature line does not start with "— "');
  const rest = line.slice(2);
  const space = rest.indexOf(' ');
  if (space < 0) fail('bad_note', 'a signature line has no space after the name');
  const name = rest.slice(0, space);
  if (!isKeyName(name)) fail('bad_note', 'a signature line has an invalid key name');
  const raw = fromBase64(rest.slice(space + 1));
  if (!raw) fail('bad_note', 'a signature is not canonical base64');
  if (raw.length < 5) fail('bad_note', 'a signature is shorter than 5 bytes');
  const keyId = Number(readU64(new Uint8Array([0, 0, 0, 0, ...raw.subarray(0, 4)]), 0));
  return { name, keyId, sig: raw.slice(4), line };
}

/** A cosignature that verified (tlog-cosignature; checkpoints-and-tiles.md §2.4). */
export interface Cosignature {
  key: VerifierKey;
  timestamp: bigint;
}

export interface OpenedNote {
  note: ParsedNote;
  cosignatures: Cosignature[];
  /** Lines signed by keys the verifier does not know: kept, never trusted. */
  unknown: NoteSignature[];
}

/** The message a witness signs (tlog-cosignature, "Ed25519 signed message"). */
export function cosignedMessage(timestamp: bigint, text: string): Uint8Array {
  return utf8(`cosignature/v1\ntime ${timestamp}\n${text}`);
}

/** Verifies one cosignature line's bytes: 8-byte timestamp then the signature. */
export function checkCosignature(key: VerifierKey, sig: Uint8Array, text: string): bigint | null {
  if (sig.length !== 72) return null;
  const t = readU64(sig, 0);
  if (t > 2n ** 63n - 1n) return null;
  return verifyNote(key.publicKey, cosignedMessage(t, text), sig.subarray(8)) ? t : null;
}

/**
 * Opens a note (§3 steps 1–3): every line whose name and key ID match a trusted
 * key is verified, and one that fails rejects the note; a signature by `logKey`
 * is required. Witness lines are verified as cosignatures.
 *
 * @throws VerifyError `bad_note`, `bad_signature`, `no_log_signature`
 */
export function openNote(bytes: Uint8Array, logKey: VerifierKey, witnesses: VerifierKey[] = []): OpenedNote {
  const note = parseNote(bytes);
  const keys = [logKey, ...witnesses];
  const verified = new Set<VerifierKey>();
  const cosignatures: Cosignature[] = [];
  const unknown: NoteSignature[] = [];
  for (const s of note.signatures) {
    const matches = keys.filter((k) => k.name === s.name && k.keyId === s.keyId);
    if (matches.length > 1) fail('bad_signature', `two trusted keys match ${s.name}+${keyIdHex(s.keyId)}`);
    const key = matches[0];
    if (!key) {
      unknown.push(s);
      continue;
    }
    if (verified.has(key)) continue;
    if (key === logKey) {
      if (s.sig.length !== 64 || !verifyNote(key.publicKey, note.textBytes, s.sig))
        fail('bad_signature', `the signature of ${s.name} does not verify`);
    } else {
      const t = checkCosignature(key, s.sig, note.text);
      if (t === null) fail('bad_signature', `the cosignature of ${s.name} does not verify`);
      cosignatures.push({ key, timestamp: t });
    }
    verified.add(key);
  }
  if (!verified.has(logKey)) fail('no_log_signature', `no signature by ${logKey.name}+${keyIdHex(logKey.keyId)}`);
  return { note, cosignatures, unknown };
}

