/**
 * Witness policies (spec/witness-policy.md), forks and evidence
 * (spec/evidence.md) on trees built here with keys made here.
 */
import { describe, expect, it } from 'vitest';
import {
  checkHistory, concat, evaluatePolicy, evidenceProves, fromBase64, keyId, keyIdHex, leafHash, openCheckpoint,
  parsePolicy, parseVerifierKey, publicKey, rootOf, sign, TiledTree, tilePath, tileWidth, toBase64, utf8, cosignedMessage,
  type VerifierKey,
} from '../src/verify';

function makeKey(name: string, type: number, seedByte: number): { seed: Uint8Array; vkey: VerifierKey } {
  const seed = new Uint8Array(32).fill(seedByte);
  const pub = publicKey(seed);
  const text = `${name}+${keyIdHex(keyId(name, type, pub))}+${toBase64(new Uint8Array([type, ...pub]))}`;
  return { seed, vkey: parseVerifierKey(text, [type]) };
}

const ORIGIN = 'test.example/log';
const log = makeKey(ORIGIN, 1, 7);
const idBytes = (k: VerifierKey) => new Uint8Array([k.keyId >>> 24, (k.keyId >>> 16) & 255, (k.keyId >>> 8) & 255, k.keyId & 255]);

function signCheckpoint(size: number, root: Uint8Array, cosigners: [ReturnType<typeof makeKey>, bigint][] = []): Uint8Array {
  const text = `${ORIGIN}\n${size}\n${toBase64(root)}\n`;
  let note = `${text}\n— ${ORIGIN} ${toBase64(concat(idBytes(log.vkey), sign(log.seed, utf8(text))))}\n`;
  for (const [w, t] of cosigners) {
    const ts = new Uint8Array(8);
    new DataView(ts.buffer).setBigUint64(0, t);
    note += `— ${w.vkey.name} ${toBase64(concat(idBytes(w.vkey), ts, sign(w.seed, cosignedMessage(t, text))))}\n`;
  }
  return utf8(note);
}

/** A tree of leaves `${tag}${i}`, served as tiles from memory. */
function memoryLog(tag: string, n: number, prefix: Uint8Array[] = []) {
  const leaves = [...prefix, ...Array.from({ length: n - prefix.length }, (_, i) => leafHash(utf8(`${tag}${i}`)))];
  const level1 = Array.from({ length: Math.floor(n / 256) }, (_, i) => rootOf(leaves.slice(256 * i, 256 * i + 256)));
  const fetcher = async (path: string) => {
    for (const [lvl, hashes] of [[0, leaves], [1, level1]] as const) {
      for (let idx = 0; idx * 256 < hashes.length; idx++) {
        const w = tileWidth(n, lvl, idx);
        if (w && tilePath(lvl, idx, w) === path) return concat(...hashes.slice(256 * idx, 256 * idx + w));
      }
    }
    throw new Error(`404 ${path}`);
  };
  return { leaves, root: rootOf(leaves), fetcher };
}

describe('witness policies', () => {
  const w = ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'].map((n, i) => makeKey(`${n.toLowerCase()}.example`, 4, 20 + i));
  const policyText = [
    `log ${log.vkey.text}`,
    ...w.map((k, i) => `witness ${['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'][i]} ${k.vkey.text} https://w${i}.example/`),
    'group X-witnesses 2 X1 X2 X3',
    'group Y-witnesses any Y1 Y2 Y3',
    'group X-and-Y all X-witnesses Y-witnesses',
    'quorum X-and-Y',
    '',
  ].join('\n');

  it('computes the freshness time of the witness-policy.md §4.2 example', () => {
    const p = parsePolicy(policyText);
    const note = signCheckpoint(1, leafHash(utf8('a')), [[w[0], 500n], [w[1], 100n], [w[2], 400n], [w[3], 50n], [w[4], 700n]]);
    const v = evaluatePolicy(p, note);
    expect(v.met).toBe(true);
    expect(v.freshness).toBe(400n);
  });

  it('is not met without Y, and ignores a bad cosignature line', () => {
    const p = parsePolicy(policyText);
    const note = new TextDecoder().decode(signCheckpoint(1, leafHash(utf8('a')), [[w[0], 500n], [w[1], 100n]]));
    expect(evaluatePolicy(p, utf8(note)).met).toBe(false);
    const y = new TextDecoder().decode(signCheckpoint(1, leafHash(utf8('a')), [[w[3], 9n]])).split('\n').slice(-2)[0];
    const badY = y.slice(0, -6) + (y.slice(-6, -5) === 'A' ? 'B' : 'A') + y.slice(-5);
    expect(evaluatePolicy(p, utf8(note + badY + '\n')).met).toBe(false);
    expect(evaluatePolicy(p, utf8(note + badY + '\n' + y + '\n')).freshness).toBe(9n);
  });

  const refused: [string, string][] = [
    ['no quorum', `witness A ${w[0].vkey.text}\n`],
    ['no final newline', `quorum none`],
    ['a 0x01 witness key', `witness A ${log.vkey.text}\nquorum A\n`],
    ['a member not defined earlier', `group G 1 A\nwitness A ${w[0].vkey.text}\nquorum G\n`],
    ['a member used twice', `witness A ${w[0].vkey.text}\ngroup G 1 A\ngroup H 1 A\nquorum G\n`],
    ['threshold with leading zero', `witness A ${w[0].vkey.text}\ngroup G 01 A\nquorum G\n`],
    ['threshold above n', `witness A ${w[0].vkey.text}\ngroup G 2 A\nquorum G\n`],
    ['defining none', `witness none ${w[0].vkey.text}\nquorum none\n`],
    ['two quorum lines', `quorum none\nquorum none\n`],
    ['unknown keyword', `Quorum none\n`],
    ['carriage return', `quorum none\r\n`],
    ['end-of-line comment', `quorum none # x\n`],
    ['same witness key twice', `witness A ${w[0].vkey.text}\nwitness B ${w[0].vkey.text}\nquorum A\n`],
  ];
  for (const [name, text] of refused) it(`refuses: ${name}`, () => expect(() => parsePolicy(text)).toThrow(/bad_policy/));
  it('accepts comments, blank lines and quorum none', () => expect(parsePolicy('# x\n\n  \t\nquorum none\n').quorum).toBeNull());
});

describe('history: consistency, forks and evidence', () => {
  it('proves that a grown tree extends the remembered one, over tile boundaries', async () => {
    for (const [a, b] of [[1, 2], [5, 300], [256, 700], [300, 513], [255, 256]]) {
      const small = memoryLog('e', a);
      const big = memoryLog('e', b);
      const seen = { head: { size: BigInt(a), root: small.root }, bytes: signCheckpoint(a, small.root) };
      const cur = { head: { size: BigInt(b), root: big.root }, bytes: signCheckpoint(b, big.root) };
      const v = await checkHistory(log.vkey, seen, cur, new TiledTree(cur.head, big.fetcher), Date.now());
      expect(v.kind, `${a} -> ${b}`).toBe('consistent');
    }
  });

  it('proves a fork, writes evidence that proves it, and reports an older tree', async () => {
    for (const [a, b] of [[3, 10], [4, 10], [256, 600], [10, 10]]) {
      const honest = memoryLog('e', a);
      const forked = memoryLog('e', b, honest.leaves.slice(0, a - 1)); // the last remembered leaf differs
      const seen = { head: { size: BigInt(a), root: honest.root }, bytes: signCheckpoint(a, honest.root) };
      const cur = { head: { size: BigInt(b), root: forked.root }, bytes: signCheckpoint(b, forked.root) };
      const v = await checkHistory(log.vkey, seen, cur, new TiledTree(cur.head, forked.fetcher), 1_800_000_000_000);
      expect(v.kind, `${a} -> ${b}`).toBe('fork');
      if (v.kind !== 'fork') continue;
      const ev = JSON.parse(v.evidence);
      expect(Object.keys(ev)).toEqual(['format', 'kind', 'origin', 'vkey', 'observed_at_unix', 'earlier', 'later', 'proof', 'problem']);
      const proof = ev.proof && { oldSize: BigInt(ev.proof.old_size), newSize: BigInt(ev.proof.new_size), path: ev.proof.path.map((x: string) => fromBase64(x)!) };
      expect(evidenceProves(log.vkey, utf8(ev.earlier), utf8(ev.later), proof)).toBe(true);
      // The honest tree's own proof does not prove anything.
      expect(evidenceProves(log.vkey, utf8(ev.earlier), utf8(ev.earlier), null)).toBe(false);
    }
    const v = await checkHistory(log.vkey, { head: { size: 9n, root: memoryLog('e', 9).root }, bytes: signCheckpoint(9, memoryLog('e', 9).root) }, { head: { size: 3n, root: memoryLog('e', 3).root }, bytes: signCheckpoint(3, memoryLog('e', 3).root) }, new TiledTree({ size: 3n, root: memoryLog('e', 3).root }, memoryLog('e', 3).fetcher), 0);
    expect(v.kind).toBe('older');
  });

  it('opens the checkpoints it signs', () => {
    const r = memoryLog('e', 3).root;
    expect(openCheckpoint(signCheckpoint(3, r), log.vkey).checkpoint.size).toBe(3n);
  });
});

describe('tile authentication names what failed', () => {
  it('a changed full tile, and a changed entry bundle', async () => {
    const n = 600;
    const words = Array.from({ length: n }, (_, i) => utf8(`w${i}`));
    const base = memoryLog('w', n, words.map(leafHash));
    const bundles = async (path: string) => {
      const m = /^tile\/entries\/(\d{3})(?:\.p\/(\d+))?$/.exec(path);
      if (!m) return base.fetcher(path);
      const start = Number(m[1]) * 256;
      const width = m[2] ? Number(m[2]) : 256;
      return concat(...words.slice(start, start + width).map((w) => concat(new Uint8Array([0, w.length]), w)));
    };
    const head = { size: BigInt(n), root: base.root };
    const good = new TiledTree(head, bundles);
    expect((await good.bundle(1)).length).toBe(256);
    expect((await good.bundle(2)).length).toBe(88);
    const badTile = new TiledTree(head, async (p) => {
      const d = await bundles(p);
      if (p === 'tile/0/000') d[7] ^= 1;
      return d;
    });
    await expect(badTile.leafHashAt(5)).rejects.toThrow(/tile\/0\/000: does not hash to its parent/);
    expect(toBase64(await badTile.leafHashAt(300))).toBe(toBase64(base.leaves[300]));
    const badBundle = new TiledTree(head, async (p) => {
      const d = await bundles(p);
      if (p === 'tile/entries/001') d[9] ^= 1;
      return d;
    });
    await expect(badBundle.bundle(1)).rejects.toThrow(/tile\/entries\/001: entry \d+ does not match/);
    const shortTile = new TiledTree(head, async (p) => (p === 'tile/1/000.p/2' ? new Uint8Array(63) : bundles(p)));
    await expect(shortTile.checkRoot()).rejects.toThrow(/tile\/1\/000\.p\/2: 63 bytes, expected 64/);
  });
});
