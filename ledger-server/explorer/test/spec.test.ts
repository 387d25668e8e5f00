/**
 * spec/'s worked examples (read in place from the GENERATED blocks), every
 * byte flip of the example receipts, and the Ed25519 rules on the C2SP CCTV
 * vectors.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkPayload, concat, decodeEnvelope, fromBase64, fromHex, isValidKey, keyHashOf, leafHash, parseStatement,
  parseVerifierKey, payloadCommitment, STATEMENT_LABEL, tilePath, tileWidth, toHex, utf8, verifyEntrySignature,
  verifyNote, verifyReceipt, verifyStatement, VerifyError, encodeIndex, stringifyJson,
} from '../src/verify';
import { INTEROP, labelled, readText, specBlock } from './helpers';

const keys = specBlock('receipts.md', 'keys');
const LOG = parseVerifierKey(labelled(keys, 'log verifier key:'));
const hexBlock = (block: string) => fromHex(block.split('whole envelope (hex):\n')[1].split('\n\n')[0].replace(/\s/g, ''))!;

describe('entry.md examples', () => {
  const envelope = hexBlock(specBlock('entry.md', 'permit-envelope'));
  const statementText = specBlock('entry.md', 'permit-statement').trim();

  it('decodes the permit envelope and its leaf hash', () => {
    const env = decodeEnvelope(envelope);
    expect(env.index).toBe(3n);
    expect(env.sequencedAtMs).toBe(1795852805000n);
    expect(env.agencyPrev).toBeNull();
    expect(new TextDecoder().decode(env.statementBytes)).toBe(statementText);
    expect(toHex(leafHash(envelope))).toBe('88904eeae3495b40314ef10214764552aef75284a752e94f00b2de4b5eb61729');
  });

  it('parses the statement and verifies the agency signature under the statement rule', () => {
    const env = decodeEnvelope(envelope);
    const st = parseStatement(env.statementBytes);
    expect([st.agency, st.type, st.channel, st.subject]).toEqual(['city-licensing', 'decision.permit.granted', 'G2B', 'PERMIT/2026/0042']);
    const key = fromBase64(labelled(keys, 'agency city-licensing key:'))!;
    expect(toHex(keyHashOf(key))).toBe('948153ffb45548e9596aeffffdcc9c94fd122b858c7ba2330adb1cba16ab2990');
    expect(verifyEntrySignature(env, key)).toBe('ok');
    const other = fromBase64(labelled(keys, 'agency finance-ministry key:'))!;
    expect(verifyEntrySignature(env, other)).toBe('key_mismatch');
  });

  it('computes the payload commitment', () => {
    const b = specBlock('entry.md', 'payload-commitment');
    const salt = labelled(b, 'salt:');
    const payload = utf8(labelled(b, 'payload:'));
    expect(payloadCommitment(fromHex(salt)!, payload)).toBe('4835deeeb28bb0636a38d519059f00fcc06464995f7929269be5d2ad60b29f19');
    expect(checkPayload('4835deeeb28bb0636a38d519059f00fcc06464995f7929269be5d2ad60b29f19', salt, payload)).toBe('ok');
    expect(checkPayload('4835deeeb28bb0636a38d519059f00fcc06464995f7929269be5d2ad60b29f19', salt, utf8('x'))).toBe('mismatch');
    expect(checkPayload('4835deeeb28bb0636a38d519059f00fcc06464995f7929269be5d2ad60b29f19', 'zz', payload)).toBe('bad_salt');
  });

  it('refuses malformed envelopes', () => {
    const bad = (f: (b: Uint8Array) => Uint8Array) => expect(() => decodeEnvelope(f(envelope.slice()))).toThrow(VerifyError);
    bad((b) => ((b[0] = 2), b));
    bad((b) => ((b[49] = 2), b));
    bad((b) => b.slice(0, -1));
    bad((b) => concat(b, new Uint8Array([0])));
    bad((b) => ((b[50] = 0), (b[51] = 0), b));
    bad(() => new Uint8Array(65536));
  });
});

describe('strict statements (entry.md §1.1)', () => {
  const base = specBlock('entry.md', 'permit-statement').trim();
  const withField = (s: string) => base.replace('"v":1,', s);
  const cases: [string, string][] = [
    ['leading zero', base.replace('"v":1', '"v":01')],
    ['v as 1.0', base.replace('"v":1', '"v":1.0')],
    ['v as string', base.replace('"v":1', '"v":"1"')],
    ['plus sign', base.replace('150000', '+1')],
    ['fraction without digits', base.replace('150000', '1.')],
    ['1e308', base.replace('150000', '1e308')],
    ['309 digits', base.replace('150000', '1' + '0'.repeat(308))],
    ['NaN', base.replace('150000', 'NaN')],
    ['duplicate key', withField('"v":1,"\\u0076":1,')],
    ['duplicate nested key', base.replace('"fee_idr":150000', '"fee_idr":1,"fee_\\u0069dr":2')],
    ['unknown field', withField('"v":1,"extra":1,')],
    ['null subject', base.replace('"subject":"PERMIT/2026/0042"', '"subject":null')],
    ['lone surrogate', base.replace('street', '\\ud800street')],
    ['low surrogate first', base.replace('street', '\\udc00\\ud800')],
    ['raw control character', base.replace('street', 'st\u0001reet')],
    ['BOM', '\ufeff' + base],
    ['NBSP as whitespace', base + '\u00a0'],
    ['bad channel', base.replace('G2B', 'G2X')],
    ['bad family', base.replace('decision.permit', 'other.permit')],
    ['offset time', base.replace('07:45:00Z', '07:45:00+00:00')],
    ['Feb 30', base.replace('2026-11-28T', '2026-02-30T')],
    ['leap second not at month end', base.replace('07:45:00Z', '23:59:60Z')],
    ['uppercase commitment', base.replace('4835deee', '4835DEEE')],
    ['trailing garbage', base + 'x'],
    ['too deep', base.replace('"fee_idr":150000', '"d":' + '['.repeat(31) + ']'.repeat(31))],
  ];
  it('accepts the example and the allowed edge cases', () => {
    expect(parseStatement(utf8(base)).agency).toBe('city-licensing');
    expect(parseStatement(utf8(` \n${base}\t`)).agency).toBe('city-licensing');
    expect(parseStatement(utf8(base.replace('150000', '1e-400'))).agency).toBe('city-licensing');
    expect(parseStatement(utf8(base.replace('150000', '-0'))).agency).toBe('city-licensing');
    expect(parseStatement(utf8(base.replace('"d', '"d').replace('"fee_idr":150000', '"d":' + '['.repeat(30) + ']'.repeat(30)))).agency).toBe('city-licensing');
    expect(parseStatement(utf8(base.replace('2026-11-28T07:45:00Z', '2028-02-29T23:59:60.123456789012345678Z'))).agency).toBe('city-licensing');
    expect(parseStatement(utf8(base.replace('"agency":"city-licensing"', '"\\u0061gency":"city-licensing"'))).agency).toBe('city-licensing');
  });
  for (const [name, text] of cases) {
    it(`refuses: ${name}`, () => expect(() => parseStatement(utf8(text))).toThrow(VerifyError));
  }
  it('refuses invalid UTF-8', () => {
    const b = utf8(base);
    b[b.indexOf(0x73)] = 0xc0;
    expect(() => parseStatement(b)).toThrow(/UTF-8/);
  });
});

describe('receipts.md examples', () => {
  const forms = [specBlock('receipts.md', 'receipt'), specBlock('receipts.md', 'receipt-form-2')];

  it('verifies both forms offline', () => {
    const v1 = verifyReceipt(utf8(forms[0]), LOG);
    expect([v1.receipt.form, v1.signatureByKey, v1.envelope.index]).toEqual([1, null, 3n]);
    expect(v1.checkpoint.checkpoint.size).toBe(4n);
    const v2 = verifyReceipt(utf8(forms[1]), LOG);
    expect([v2.receipt.form, v2.signatureByKey]).toEqual([2, true]);
  });

  it('refuses every byte flip of both forms', () => {
    for (const text of forms) {
      const bytes = utf8(text);
      for (let i = 0; i < bytes.length; i++) {
        for (const bit of [0x01, 0x40]) {
          const bad = bytes.slice();
          bad[i] ^= bit;
          expect(() => verifyReceipt(bad, LOG), `byte ${i} ^ ${bit}`).toThrow(VerifyError);
        }
      }
    }
  });

  it('refuses a receipt under another log key', () => {
    const other = parseVerifierKey('example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx');
    expect(() => verifyReceipt(utf8(forms[0]), other)).toThrow(/origin/);
  });
});

describe('tile paths (checkpoints-and-tiles.md §4.4)', () => {
  it('names the tiles of a tree of 70,000', () => {
    expect(tilePath(0, 273, tileWidth(70000, 0, 273))).toBe('tile/0/273.p/112');
    expect(tilePath(1, 1, tileWidth(70000, 1, 1))).toBe('tile/1/001.p/17');
    expect(tilePath(2, 0, tileWidth(70000, 2, 0))).toBe('tile/2/000.p/1');
    expect(tileWidth(70000, 0, 272)).toBe(256);
    expect(tileWidth(70000, 0, 274)).toBe(0);
    expect(tilePath(4, 1234067, 1)).toBe('tile/4/x001/x234/067.p/1');
    expect(encodeIndex(5)).toBe('005');
    expect(tilePath('entries', 0, 15)).toBe('tile/entries/000.p/15');
  });
});

describe('Ed25519 rules on the C2SP CCTV vectors', () => {
  const vectors: { number: number; key: string; sig: string; msg: string; flags: string[] | null }[] = JSON.parse(
    readText(join(INTEROP, 'ed25519-cctv/ed25519vectors.json')),
  );
  const flagsOf = (v: (typeof vectors)[0]) => v.flags ?? [];
  const run = (f: typeof verifyNote, v: (typeof vectors)[0]) => f(fromHex(v.key)!, utf8(v.msg), fromHex(v.sig)!);

  it('note rule (Go): refuses exactly non_canonical_R and low_order_residue', () => {
    for (const v of vectors) {
      const want = !flagsOf(v).some((f) => f === 'non_canonical_R' || f === 'low_order_residue');
      expect(run(verifyNote, v), `vector ${v.number} ${flagsOf(v)}`).toBe(want);
    }
  });

  it('statement rule (entry.md §3.2): accepts exactly the vectors with no flag but low_order_component_A/R', () => {
    let accepted = 0;
    for (const v of vectors) {
      const want = flagsOf(v).every((f) => f === 'low_order_component_A' || f === 'low_order_component_R');
      expect(run(verifyStatement, v), `vector ${v.number} ${flagsOf(v)}`).toBe(want);
      if (want) accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
  });

  it('key rule: refuses small-order and non-canonical keys, accepts mixed-order ones', () => {
    for (const v of vectors) {
      const f = flagsOf(v);
      const want = !f.includes('low_order_A') && !f.includes('non_canonical_A');
      expect(isValidKey(fromHex(v.key)!), `vector ${v.number} ${f}`).toBe(want);
    }
  });

  it('the statement signature is over the labelled message', () => {
    const env = decodeEnvelope(hexBlock(specBlock('entry.md', 'permit-envelope')));
    const key = fromBase64(labelled(keys, 'agency city-licensing key:'))!;
    expect(verifyStatement(key, concat(STATEMENT_LABEL, env.statementBytes), env.signature)).toBe(true);
    expect(verifyStatement(key, env.statementBytes, env.signature)).toBe(false);
  });
});

describe('parsers never fail but with a VerifyError', () => {
  it('on 3,000 random mutations of a statement, an envelope and a receipt', () => {
    let seed = 12345;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const inputs: [(b: Uint8Array) => unknown, Uint8Array][] = [
      [parseStatement, utf8(specBlock('entry.md', 'permit-statement').trim())],
      [decodeEnvelope, hexBlock(specBlock('entry.md', 'permit-envelope'))],
      [(b) => verifyReceipt(b, LOG), utf8(specBlock('receipts.md', 'receipt-form-2'))],
    ];
    for (const [parse, good] of inputs) {
      for (let i = 0; i < 1000; i++) {
        let b: Uint8Array = good.slice();
        const k = 1 + rand(4);
        for (let j = 0; j < k; j++) {
          const at = rand(b.length);
          const op = rand(3);
          if (op === 0) b[at] = rand(256);
          else if (op === 1) b = concat(b.slice(0, at), b.slice(at + 1));
          else b = concat(b.slice(0, at), new Uint8Array([rand(256)]), b.slice(at));
        }
        try {
          parse(b);
        } catch (e) {
          expect(e, `mutation ${i}`).toBeInstanceOf(VerifyError);
        }
      }
    }
  });
});

describe('display of decoded JSON', () => {
  it('keeps numbers exactly as written', () => {
    const st = parseStatement(utf8(specBlock('entry.md', 'permit-statement').trim().replace('150000', '12345678901234567890123e-2')));
    expect(stringifyJson(st.object)).toContain('"fee_idr": 12345678901234567890123e-2');
    expect(stringifyJson(st.object).startsWith('{\n  "permit": "street food stall",')).toBe(true);
  });
});
