/**
 * Receipts (spec/receipts.md): c2sp.org/tlog-proof@v1 with the entry envelope
 * in `extra`, form 1 (the envelope) or form 2 (0x02 || K || envelope).
 */
import { decodeUtf8, fail, fromBase64, parseDecimal, utf8 } from './bytes';
import { openCheckpoint, type OpenedCheckpoint } from './checkpoint';
import { isValidKey } from './ed25519';
import { decodeEnvelope, parseStatement, verifyEntrySignature, type Envelope, type Statement } from './entry';
import { leafHash, MAX_PROOF_HASHES, toSafeSize, verifyInclusion } from './merkle';
import type { VerifierKey } from './note';

export const MAX_RECEIPT = 262144;
const HEADER = 'c2sp.org/tlog-proof@v1';

export interface ParsedReceipt {
  form: 1 | 2;
  /** Form 2's signer key. */
  key: Uint8Array | null;
  envelopeBytes: Uint8Array;
  index: bigint;
  path: Uint8Array[];
  checkpointBytes: Uint8Array;
}

/**
 * Parses a receipt (receipts.md §2).
 *
 * @throws VerifyError `bad_receipt`
 */
export function parseReceipt(bytes: Uint8Array): ParsedReceipt {
  if (bytes.length > MAX_RECEIPT) fail('bad_receipt', `larger than ${MAX_RECEIPT} bytes`);
  const text = decodeUtf8(bytes);
  if (text === null) fail('bad_receipt', 'not valid UTF-8');
  const blank = text.indexOf('\n\n');
  if (blank < 0) fail('bad_receipt', 'no empty line before the checkpoint');
  const head = text.slice(0, blank).split('\n');
  const checkpointText = text.slice(blank + 2);
  if (checkpointText === '') fail('bad_receipt', 'nothing after the empty line');
  if (head[0] !== HEADER) fail('bad_receipt', `the first line is not ${HEADER}`);
  const extraLine = head[1] ?? '';
  if (!extraLine.startsWith('extra ')) fail('bad_receipt', 'no extra line (a receipt carries its entry)');
  const extra = fromBase64(extraLine.slice(6));
  if (!extra) fail('bad_receipt', 'extra is not canonical base64');
  const indexLine = head[2] ?? '';
  const index = indexLine.startsWith('index ') ? parseDecimal(indexLine.slice(6)) : null;
  if (index === null) fail('bad_receipt', 'no valid index line');
  const hashLines = head.slice(3);
  if (hashLines.length > MAX_PROOF_HASHES) fail('bad_receipt', `more than ${MAX_PROOF_HASHES} hashes`);
  const path = hashLines.map((l) => {
    const h = l.length === 44 ? fromBase64(l) : null;
    if (!h || h.length !== 32) fail('bad_receipt', 'a hash line is not base64 of 32 bytes');
    return h;
  });
  let form: 1 | 2 = 1;
  let key: Uint8Array | null = null;
  let envelopeBytes = extra;
  if (extra[0] === 0x02) {
    if (extra.length < 33) fail('bad_receipt', 'form 2 extra shorter than 33 bytes');
    key = extra.slice(1, 33);
    if (!isValidKey(key)) fail('bad_receipt', 'form 2 key is not a valid Ed25519 key');
    envelopeBytes = extra.slice(33);
    form = 2;
  }
  return { form, key, envelopeBytes, index, path, checkpointBytes: utf8(checkpointText) };
}

/** What a receipt verification established. Every field is a fact checked, in order. */
export interface ReceiptVerdict {
  receipt: ParsedReceipt;
  envelope: Envelope;
  statement: Statement;
  checkpoint: OpenedCheckpoint;
  leafHash: Uint8Array;
  /** Form 2: the signature verified under K and SHA-256(K) is the key hash. Form 1: not checked (null). */
  signatureByKey: boolean | null;
}

/**
 * Verifies a receipt offline (receipts.md §3, steps 1–7) with the trusted log key.
 *
 * @throws VerifyError naming the step that failed
 */
export function verifyReceipt(bytes: Uint8Array, logKey: VerifierKey): ReceiptVerdict {
  const receipt = parseReceipt(bytes); // 1
  const envelope = decodeEnvelope(receipt.envelopeBytes); // 2
  if (envelope.index !== receipt.index) fail('index_mismatch', `envelope index ${envelope.index}, receipt index ${receipt.index}`); // 3
  const statement = parseStatement(envelope.statementBytes); // 4
  if (statement.origin !== logKey.name) fail('wrong_origin', `statement for ${statement.origin}`);
  const checkpoint = openCheckpoint(receipt.checkpointBytes, logKey); // 5
  const leaf = leafHash(receipt.envelopeBytes); // 6
  const size = checkpoint.checkpoint.size;
  if (receipt.index >= size) fail('bad_inclusion', `index ${receipt.index} is not below the tree size ${size}`);
  if (!verifyInclusion(toSafeSize(receipt.index), toSafeSize(size), leaf, receipt.path, checkpoint.checkpoint.root))
    fail('bad_inclusion', `the path does not lead from entry ${receipt.index} to the root of size ${size}`);
  let signatureByKey: boolean | null = null; // 7
  if (receipt.key) {
    const r = verifyEntrySignature(envelope, receipt.key);
    if (r === 'key_mismatch') fail('key_mismatch', 'SHA-256(K) is not the envelope key hash');
    if (r === 'bad_signature') fail('bad_entry_signature', 'the statement signature does not verify under K');
    signatureByKey = true;
  }
  return { receipt, envelope, statement, checkpoint, leafHash: leaf, signatureByKey };
}
