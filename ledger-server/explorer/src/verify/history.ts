/**
 * "Has the history changed?": relates a remembered checkpoint to the current
 * one (checkpoints-and-tiles.md §3, last part), proving consistency from tiles
 * authenticated against the current checkpoint, and writing evidence
 * (evidence.md) when the two do not extend each other.
 */
import { equal } from './bytes';
import type { TreeHead } from './checkpoint';
import { buildConsistencyProof, consistencyRoots, fullConsistencyPath, toSafeSize, verifyConsistency } from './merkle';
import type { VerifierKey } from './note';
import { writeEvidence } from './evidence';
import type { TiledTree } from './tiles';

export type HistoryVerdict =
  | { kind: 'first' }
  | { kind: 'same' }
  /** Proved: the current tree extends the remembered one (proof hashes checked). */
  | { kind: 'consistent'; proofHashes: number }
  /** The server shows a smaller tree than the one remembered: a rollback or a lagging mirror; not provable from here. */
  | { kind: 'older' }
  /** Proved: the log signed two trees that do not extend each other. */
  | { kind: 'fork'; evidence: string };

export interface Seen {
  head: TreeHead;
  bytes: Uint8Array;
}

/**
 * Relates `remembered` (opened earlier) to `current`, whose tree `tree` reads
 * authenticated tiles.
 *
 * @throws VerifyError when a tile cannot be read or authenticated (could not check)
 */
export async function checkHistory(logKey: VerifierKey, remembered: Seen | null, current: Seen, tree: TiledTree, now: number): Promise<HistoryVerdict> {
  if (!remembered) return { kind: 'first' };
  const s1 = remembered.head.size;
  const s2 = current.head.size;
  const evidence = (proof: { oldSize: bigint; newSize: bigint; path: Uint8Array[] } | null, problem: string) =>
    writeEvidence({ logKey, earlier: remembered.bytes, later: current.bytes, proof, observedAtUnix: Math.floor(now / 1000), problem });
  if (s2 < s1) return { kind: 'older' };
  if (s1 === s2) {
    if (equal(remembered.head.root, current.head.root)) return { kind: 'same' };
    return { kind: 'fork', evidence: evidence(null, `two different roots signed for size ${s1}`) };
  }
  if (s1 === 0n) return { kind: 'consistent', proofHashes: 0 };
  const first = toSafeSize(s1);
  const second = toSafeSize(s2);
  await tree.checkRoot();
  const proof = await buildConsistencyProof(first, second, tree.rangeHash);
  if (verifyConsistency(first, second, proof, remembered.head.root, current.head.root)) return { kind: 'consistent', proofHashes: proof.length };
  const full = fullConsistencyPath(first, proof, await tree.rangeHash(0, first));
  const roots = consistencyRoots(first, second, full);
  if (roots && equal(roots.sr, current.head.root) && !equal(roots.fr, remembered.head.root))
    return {
      kind: 'fork',
      evidence: evidence({ oldSize: s1, newSize: s2, path: full }, `the tree of size ${s2} does not extend the remembered tree of size ${s1}`),
    };
  throw new Error('the consistency proof built from authenticated tiles does not verify');
}
