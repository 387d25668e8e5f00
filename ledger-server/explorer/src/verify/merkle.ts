/**
 * RFC 9162 §2.1 Merkle trees (identical to RFC 6962 §2.1): leaf and node
 * hashes, inclusion and consistency proof verification, and proof building from
 * a source of subtree hashes. Indexes and sizes are JavaScript numbers, exact
 * up to 2^53; callers refuse larger trees (`toSafeSize`).
 */
import { sha256 } from '@noble/hashes/sha2';
import { concat, equal, fail } from './bytes';

export const MAX_PROOF_HASHES = 65;

export function leafHash(leaf: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([0]), leaf));
}

export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(concat(new Uint8Array([1]), left, right));
}

/** A size or index as a number, refusing what this verifier cannot handle exactly. */
export function toSafeSize(n: bigint): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) fail('too_large', `${n} is above 2^53, which this page cannot check`);
  return Number(n);
}

const all32 = (hs: Uint8Array[]) => hs.every((h) => h.length === 32);
const odd = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

/** The largest power of two smaller than n (n ≥ 2). */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** The root computed from a leaf hash and its path, or null if the path has the wrong length (RFC 9162 §2.1.3.2). */
export function inclusionRoot(index: number, size: number, leaf: Uint8Array, path: Uint8Array[]): Uint8Array | null {
  if (index >= size || path.length > MAX_PROOF_HASHES || !all32([leaf, ...path])) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      r = nodeHash(r, p);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 ? r : null;
}

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): index < size, exactly the
 * number of hashes required, and the computed root equal to `root`.
 */
export function verifyInclusion(index: number, size: number, leaf: Uint8Array, path: Uint8Array[], root: Uint8Array): boolean {
  const r = inclusionRoot(index, size, leaf, path);
  return r !== null && root.length === 32 && equal(r, root);
}

const isPowerOfTwo = (n: number) => n > 0 && 2 ** Math.round(Math.log2(n)) === n;

/**
 * Steps 3–7 of RFC 9162 §2.1.4.2 over a full path (the old root prepended when
 * `first` is a power of two, evidence.md §2): the roots `fr` (of `first`) and
 * `sr` (of `second`) it implies, or null if the path has the wrong length.
 */
export function consistencyRoots(first: number, second: number, full: Uint8Array[]): { fr: Uint8Array; sr: Uint8Array } | null {
  if (first === 0 || first >= second || full.length === 0 || full.length > MAX_PROOF_HASHES + 1 || !all32(full)) return null;
  let fn = first - 1;
  let sn = second - 1;
  while (odd(fn)) [fn, sn] = [half(fn), half(sn)];
  let fr = full[0];
  let sr = full[0];
  for (const c of full.slice(1)) {
    if (sn === 0) return null;
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!odd(fn)) while (!odd(fn) && fn !== 0) [fn, sn] = [half(fn), half(sn)];
    } else {
      sr = nodeHash(sr, c);
    }
    [fn, sn] = [half(fn), half(sn)];
  }
  return sn === 0 ? { fr, sr } : null;
}

/** The full path of evidence.md §2: the proof, with the old root first when `first` is a power of two. */
export function fullConsistencyPath(first: number, proof: Uint8Array[], firstRoot: Uint8Array): Uint8Array[] {
  return isPowerOfTwo(first) ? [firstRoot, ...proof] : proof;
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2). Equal sizes need an empty
 * proof and equal roots; a proof from size 0 is malformed (checkpoints-and-tiles.md §7.3).
 */
export function verifyConsistency(first: number, second: number, proof: Uint8Array[], firstRoot: Uint8Array, secondRoot: Uint8Array): boolean {
  if (first > second || first === 0 || proof.length > MAX_PROOF_HASHES || !all32([...proof, firstRoot, secondRoot])) return false;
  if (first === second) return proof.length === 0 && equal(firstRoot, secondRoot);
  const roots = consistencyRoots(first, second, fullConsistencyPath(first, proof, firstRoot));
  return roots !== null && equal(roots.fr, firstRoot) && equal(roots.sr, secondRoot);
}

/** Merkle tree hash of leaves [lo, hi), from a source of such hashes. */
export type RangeHash = (lo: number, hi: number) => Promise<Uint8Array>;

/** The RFC 9162 §2.1.4.1 consistency proof from `first` to `second` (0 < first < second). */
export async function buildConsistencyProof(first: number, second: number, mth: RangeHash): Promise<Uint8Array[]> {
  const sub = async (m: number, lo: number, hi: number, whole: boolean): Promise<Uint8Array[]> => {
    const n = hi - lo;
    if (m === n) return whole ? [] : [await mth(lo, hi)];
    const k = splitPoint(n);
    if (m <= k) return [...(await sub(m, lo, lo + k, whole)), await mth(lo + k, hi)];
    return [...(await sub(m - k, lo + k, hi, false)), await mth(lo, lo + k)];
  };
  return sub(first, 0, second, true);
}

/** The RFC 9162 §2.1.3.1 inclusion path of leaf `index` in a tree of `size`. */
export async function buildInclusionProof(index: number, size: number, mth: RangeHash): Promise<Uint8Array[]> {
  const path = async (m: number, lo: number, hi: number): Promise<Uint8Array[]> => {
    const n = hi - lo;
    if (n === 1) return [];
    const k = splitPoint(n);
    if (m < k) return [...(await path(m, lo, lo + k)), await mth(lo + k, hi)];
    return [...(await path(m - k, lo + k, hi)), await mth(lo, lo + k)];
  };
  return path(index, 0, size);
}

/** Merkle tree hash of a list of leaf hashes (for tests and for a tile's hashes). */
export function rootOf(hashes: Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return sha256(new Uint8Array(0));
  if (hashes.length === 1) return hashes[0];
  const k = splitPoint(hashes.length);
  return nodeHash(rootOf(hashes.slice(0, k)), rootOf(hashes.slice(k)));
}
