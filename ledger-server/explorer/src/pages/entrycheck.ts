/**
 * Checking one entry against the verified tree: its bytes must hash to the
 * authenticated leaf at its index; the statement is decoded from those bytes
 * (never from the server's JSON), and both chain links are checked.
 */
import { t, type Key } from '../i18n';
import {
  decodeEnvelope, equal, fromBase64, keyHashOf, leafHash, parseStatement, toHex, verifyEntrySignature, VerifyError,
  type Envelope, type Statement,
} from '../verify';
import { fetchJson, trust, type Verified } from '../session';

export interface EntryCheck {
  index: number;
  envelope: Envelope | null;
  statement: Statement | null;
  /** The leaf is authenticated: the entry is in the signed tree. */
  verified: boolean;
  checks: [boolean | null, string][];
  error: unknown;
  ms: number;
}

interface AgencyJson {
  id: string;
  name: string;
  registered_at: number;
  entries: number;
  last_entry: number | null;
  keys: { key: string; key_hash: string; added_at: number; revoked_at: number | null; active: boolean }[];
}

let keyMap: Promise<Map<string, Uint8Array>> | null = null;

/** Keys the server's registry view lists, by key hash: claims, used only to check signatures. */
function knownKeys(): Promise<Map<string, Uint8Array>> {
  keyMap ??= fetchJson<{ agencies: AgencyJson[] }>('v1/agencies').then((r) => {
    const m = new Map<string, Uint8Array>();
    for (const a of r?.agencies ?? []) for (const k of a.keys) { const b = fromBase64(k.key); if (b) m.set(k.key_hash, b); }
    const auth = trust.authority();
    const ab = auth ? fromBase64(auth) : null;
    if (ab) m.set(toHex(keyHashOf(ab)), ab);
    return m;
  });
  return keyMap;
}

export type { AgencyJson };

export async function checkEntry(v: Verified, index: number, bytes: Uint8Array): Promise<EntryCheck> {
  const started = performance.now();
  const checks: [boolean | null, string][] = [];
  let envelope: Envelope | null = null;
  let statement: Statement | null = null;
  let verified = false;
  let error: unknown = null;
  const say = (ok: boolean | null, key: Key, p: Record<string, string | number | bigint> = {}) => checks.push([ok, t(key, p)]);
  try {
    const leaf = await v.tree.leafHashAt(index);
    verified = equal(leafHash(bytes), leaf);
    say(verified, 'chk_leaf', { index });
    if (!verified) throw new VerifyError('leaf_mismatch', `entry ${index}`);
    envelope = decodeEnvelope(bytes);
    say(envelope.index === BigInt(index), 'chk_envelope', { index });
    statement = parseStatement(envelope.statementBytes);
    say(true, 'chk_statement');
    if (index > 0) say(equal(envelope.prev, await v.tree.leafHashAt(index - 1)), 'chk_prev', { prev: index - 1 });
    if (envelope.agencyPrev === null) say(null, 'chk_agency_first');
    else say(null, 'chk_agency_prev', { prev: envelope.agencyPrev });
    const key = (await knownKeys()).get(toHex(envelope.keyHash));
    if (key) say(verifyEntrySignature(envelope, key) === 'ok', 'chk_sig', { key: toHex(envelope.keyHash).slice(0, 16) + '…' });
    else say(null, 'chk_sig_unknown');
  } catch (e) {
    error = e;
    verified = false;
  }
  return { index, envelope, statement, verified: verified && checks.every(([ok]) => ok !== false), checks, error, ms: performance.now() - started };
}
