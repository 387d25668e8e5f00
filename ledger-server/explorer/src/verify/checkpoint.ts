/**
 * Checkpoints (c2sp.org/tlog-checkpoint; checkpoints-and-tiles.md §2.2, §3).
 *
 *     <origin>\n<size>\n<base64 root>\n[<extension>\n ...]
 */
import { sha256 } from '@noble/hashes/sha2';
import { equal, fail, fromBase64, parseDecimal } from './bytes';
import { isOrigin, openNote, type OpenedNote, type VerifierKey } from './note';

export const EMPTY_ROOT = sha256(new Uint8Array(0));

/** A tree head: a size and its root. */
export interface TreeHead {
  size: bigint;
  root: Uint8Array;
}

export interface Checkpoint extends TreeHead {
  origin: string;
  extensions: string[];
}

/** A checkpoint that opened under the trusted log key. */
export interface OpenedCheckpoint extends OpenedNote {
  checkpoint: Checkpoint;
  /** The signed note, verbatim. */
  bytes: Uint8Array;
}

/**
 * Parses a checkpoint body (§2.2).
 *
 * @throws VerifyError `bad_checkpoint`
 */
export function parseCheckpointBody(text: string): Checkpoint {
  if (!text.endsWith('\n')) fail('bad_checkpoint', 'the body does not end in a newline');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) fail('bad_checkpoint', 'fewer than three lines');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!isOrigin(origin)) fail('bad_checkpoint', 'invalid origin');
  const size = parseDecimal(sizeText);
  if (size === null) fail('bad_checkpoint', 'the size is not a canonical decimal below 2^64');
  const root = rootText.length === 44 ? fromBase64(rootText) : null;
  if (!root || root.length !== 32) fail('bad_checkpoint', 'the root is not base64 of 32 bytes');
  for (const e of extensions)
    if (e === '' || /[\u0000-\u001f]/.test(e)) fail('bad_checkpoint', 'an empty or invalid extension line');
  return { origin, size, root, extensions };
}

/**
 * Opens a signed checkpoint with the log key (§3 steps 1–6): the note is opened,
 * then its text parsed, the empty tree's root and the origin checked.
 *
 * @throws VerifyError from `openNote`, `bad_checkpoint`, `wrong_origin`
 */
export function openCheckpoint(bytes: Uint8Array, logKey: VerifierKey, witnesses: VerifierKey[] = []): OpenedCheckpoint {
  const opened = openNote(bytes, logKey, witnesses);
  const checkpoint = parseCheckpointBody(opened.note.text);
  if (checkpoint.size === 0n && !equal(checkpoint.root, EMPTY_ROOT))
    fail('bad_checkpoint', 'size 0 with a root other than SHA-256 of nothing');
  if (checkpoint.origin !== logKey.name) fail('wrong_origin', `origin ${checkpoint.origin}, expected ${logKey.name}`);
  return { ...opened, checkpoint, bytes };
}
