/**
 * Evidence of a log's misbehaviour (spec/evidence.md): written when the page
 * proves that two checkpoints the log signed do not extend each other, and
 * checked by the same rules (§3) before it is offered.
 */
import { equal, toBase64 } from './bytes';
import { openCheckpoint } from './checkpoint';
import { consistencyRoots, toSafeSize } from './merkle';
import type { VerifierKey } from './note';

export const EVIDENCE_FORMAT = 'egov-ledger/evidence/v1';

export interface EvidenceInput {
  logKey: VerifierKey;
  earlier: Uint8Array;
  later: Uint8Array;
  /** The full consistency path (evidence.md §2) from the smaller to the larger size, or null for equal sizes. */
  proof: { oldSize: bigint; newSize: bigint; path: Uint8Array[] } | null;
  observedAtUnix: number;
  problem: string;
}

/** The evidence file, pretty-printed and ending in a newline (evidence.md §1). */
export function writeEvidence(e: EvidenceInput): string {
  const dec = new TextDecoder();
  const obj = {
    format: EVIDENCE_FORMAT,
    kind: 'fork',
    origin: e.logKey.name,
    vkey: e.logKey.text,
    observed_at_unix: e.observedAtUnix,
    earlier: dec.decode(e.earlier),
    later: dec.decode(e.later),
    proof: e.proof && {
      old_size: Number(e.proof.oldSize),
      new_size: Number(e.proof.newSize),
      path: e.proof.path.map(toBase64),
    },
    problem: e.problem,
  };
  return JSON.stringify(obj, null, 2) + '\n';
}

/** Whether evidence proves misbehaviour under the trusted key (evidence.md §3, steps 1–5). */
export function evidenceProves(logKey: VerifierKey, earlier: Uint8Array, later: Uint8Array, proof: EvidenceInput['proof']): boolean {
  const a = openCheckpoint(earlier, logKey).checkpoint;
  const b = openCheckpoint(later, logKey).checkpoint;
  const [S, L] = a.size <= b.size ? [a, b] : [b, a];
  if (S.size === L.size) return !equal(S.root, L.root);
  if (S.size === 0n || !proof || proof.oldSize !== S.size || proof.newSize !== L.size) return false;
  const r = consistencyRoots(toSafeSize(S.size), toSafeSize(L.size), proof.path);
  return r !== null && equal(r.sr, L.root) && !equal(r.fr, S.root);
}

