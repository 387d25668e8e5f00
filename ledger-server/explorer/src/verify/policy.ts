/**
 * Witness policies (c2sp.org/tlog-policy as spec/witness-policy.md profiles
 * it): strict parsing (§2) and the evaluation of a checkpoint's cosignatures,
 * its quorum and the quorum's freshness time (§3, §4).
 */
import { fail, utf8 } from './bytes';
import { isOrigin, parseNote, parseVerifierKey, TYPE_COSIGNATURE, TYPE_ED25519, checkCosignature, type VerifierKey } from './note';

export const MAX_POLICY = 65536;

interface Group {
  name: string;
  k: number;
  members: string[];
}

export interface Policy {
  logs: VerifierKey[];
  witnesses: Map<string, VerifierKey>;
  /** Witness and group names in definition order. */
  order: string[];
  groups: Map<string, Group>;
  /** The quorum's name, or null for `none`. */
  quorum: string | null;
}

/**
 * Parses a policy (witness-policy.md §2).
 *
 * @throws VerifyError `bad_policy`
 */
export function parsePolicy(text: string): Policy {
  const bytes = utf8(text);
  if (bytes.length > MAX_POLICY) fail('bad_policy', `larger than ${MAX_POLICY} bytes`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) fail('bad_policy', 'a control character');
  if (text !== '' && !text.endsWith('\n')) fail('bad_policy', 'the last line has no newline');
  const p: Policy = { logs: [], witnesses: new Map(), order: [], groups: new Map(), quorum: null };
  let quorumSeen = false;
  const used = new Set<string>();
  const defined = (n: string) => p.witnesses.has(n) || p.groups.has(n);
  const define = (n: string, line: number) => {
    if (n === 'none' || defined(n)) fail('bad_policy', `line ${line}: ${n} is already defined or reserved`);
    p.order.push(n);
  };
  text.split('\n').slice(0, -1).forEach((raw, i) => {
    const line = i + 1;
    const f = raw.split(/[ \t]+/).filter((x) => x !== '');
    if (f.length === 0 || f[0].startsWith('#')) return;
    const bad = (why: string): never => fail('bad_policy', `line ${line}: ${why}`);
    const key = (s: string, types: number[]) => {
      try {
        return parseVerifierKey(s, types);
      } catch (e) {
        return bad(`invalid key (${(e as Error).message})`);
      }
    };
    switch (f[0]) {
      case 'log': {
        if (f.length < 2 || f.length > 3) bad('log <vkey> [<url>]');
        const k = key(f[1], [TYPE_ED25519]);
        if (!isOrigin(k.name)) bad('the log key name is not a valid origin');
        if (p.logs.some((l) => l.text.split('+')[2] === k.text.split('+')[2])) bad('a log key listed twice');
        if (p.logs.length === 64) bad('more than 64 logs');
        p.logs.push(k);
        break;
      }
      case 'witness': {
        if (f.length < 3 || f.length > 4) bad('witness <name> <vkey> [<url>]');
        const k = key(f[2], [TYPE_COSIGNATURE]);
        if ([...p.witnesses.values()].some((w) => w.text.split('+')[2] === k.text.split('+')[2])) bad('a witness key listed twice');
        if (p.witnesses.size === 256) bad('more than 256 witnesses');
        define(f[1], line);
        p.witnesses.set(f[1], k);
        break;
      }
      case 'group': {
        if (f.length < 4) bad('group <name> all|any|<k> <member>...');
        const members = f.slice(3);
        const n = members.length;
        let k: number;
        if (f[2] === 'all') k = n;
        else if (f[2] === 'any') k = 1;
        else if (/^[1-9][0-9]{0,5}$/.test(f[2]) && Number(f[2]) <= n) k = Number(f[2]);
        else return bad('the threshold is not all, any or 1..n');
        for (const m of members) {
          if (m === 'none' || !defined(m)) bad(`member ${m} is not defined on an earlier line`);
          if (used.has(m)) bad(`${m} is a member twice`);
          used.add(m);
        }
        if (p.groups.size === 256) bad('more than 256 groups');
        define(f[1], line);
        p.groups.set(f[1], { name: f[1], k, members });
        break;
      }
      case 'quorum': {
        if (f.length !== 2) bad('quorum <name>|none');
        if (quorumSeen) bad('a second quorum line');
        if (f[1] !== 'none' && !defined(f[1])) bad(`${f[1]} is not defined on an earlier line`);
        quorumSeen = true;
        p.quorum = f[1] === 'none' ? null : f[1];
        break;
      }
      default:
        bad(`unknown keyword ${f[0]}`);
    }
  });
  if (!quorumSeen) fail('bad_policy', 'no quorum line');
  return p;
}

export interface PolicyVerdict {
  /** Each policy witness and its cosignature time (the largest valid one), or null. */
  witnesses: { name: string; key: VerifierKey; time: bigint | null }[];
  /** Whether the quorum is met (always true for `none`). */
  met: boolean;
  /** The quorum's freshness time (§4.2), or null. */
  freshness: bigint | null;
  quorumNone: boolean;
}

/**
 * Evaluates the cosignatures of a signed note that already opened under the
 * log key (witness-policy.md §4.1 steps 3–4, §4.2). Lines that do not verify
 * are ignored.
 */
export function evaluatePolicy(policy: Policy, noteBytes: Uint8Array): PolicyVerdict {
  const note = parseNote(noteBytes);
  const times = new Map<string, bigint | null>();
  for (const [name, key] of policy.witnesses) {
    let best: bigint | null = null;
    for (const s of note.signatures) {
      if (s.name !== key.name || s.keyId !== key.keyId) continue;
      const t = checkCosignature(key, s.sig, note.text);
      if (t !== null && (best === null || t > best)) best = t;
    }
    times.set(name, best);
  }
  const values = new Map(times);
  for (const name of policy.order) {
    const g = policy.groups.get(name);
    if (!g) continue;
    const got = g.members.map((m) => values.get(m) ?? null).filter((t): t is bigint => t !== null);
    got.sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    values.set(name, got.length >= g.k ? got[g.k - 1] : null);
  }
  const freshness = policy.quorum === null ? null : (values.get(policy.quorum) ?? null);
  return {
    witnesses: [...policy.witnesses].map(([name, key]) => ({ name, key, time: times.get(name) ?? null })),
    met: policy.quorum === null || freshness !== null,
    freshness,
    quorumNone: policy.quorum === null,
  };
}
