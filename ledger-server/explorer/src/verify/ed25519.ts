/**
 * Ed25519 verification rules, on noble's point operations (not `ed25519.verify`,
 * whose default is ZIP-215, cofactored and permissive).
 *
 * - `verifyNote`: note signatures (checkpoints-and-tiles.md §3): RFC 8032
 *   cofactorless, `S < L`, `R` compared as bytes (Go's crypto/ed25519).
 * - `verifyStatement`: agency signatures (entry.md §3.2): the same plus the two
 *   small-order checks (ed25519-dalek's verify_strict).
 * - `isValidKey`: the key rule of entry.md §3.2 and registry.md §3.
 */
import { ed25519 } from '@noble/curves/ed25519';
import { sha512 } from '@noble/hashes/sha2';
import { concat, equal } from './bytes';

const Point = ed25519.Point;
/** L = 2^252 + 27742317777372353535851937790883648493, the base point's order. */
export const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function leInt(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]);
  return n;
}

type EdPoint = ReturnType<typeof Point.fromHex>;

/** Decodes a point; `canonical` refuses y ≥ p and a set sign bit with x = 0. */
function decodePoint(bytes: Uint8Array, canonical: boolean): EdPoint | null {
  if (bytes.length !== 32) return null;
  try {
    return Point.fromHex(bytes, !canonical);
  } catch {
    return null;
  }
}

/** R' = [S]B − [k]A, or null when S ≥ L (RFC 8032 §5.1.7 step 1). */
function recomputeR(A: EdPoint, pub: Uint8Array, sig: Uint8Array, msg: Uint8Array): EdPoint | null {
  if (sig.length !== 64) return null;
  const R = sig.subarray(0, 32);
  const S = leInt(sig.subarray(32));
  if (S >= L) return null;
  const k = leInt(sha512(concat(R, pub, msg))) % L;
  return Point.BASE.multiplyUnsafe(S).subtract(A.multiplyUnsafe(k));
}

/**
 * Go's crypto/ed25519 rule for note signatures: A decoded as Go decodes it
 * (non-canonical encodings of points accepted), cofactorless equation, S < L,
 * R compared byte for byte with the encoding of R'.
 */
export function verifyNote(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const A = decodePoint(pub, false);
  if (!A) return false;
  const R2 = recomputeR(A, pub, sig, msg);
  return R2 !== null && equal(R2.toRawBytes(), sig.subarray(0, 32));
}

/** The statement rule of entry.md §3.2, steps 1–5. */
export function verifyStatement(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  const A = decodePoint(pub, false);
  if (!A || A.isSmallOrder()) return false; // step 2
  const R2 = recomputeR(A, pub, sig, msg); // steps 1, 3, 4
  if (!R2) return false;
  return equal(R2.toRawBytes(), sig.subarray(0, 32)) && !R2.isSmallOrder(); // step 5
}

/** The key rule (entry.md §3.2): a canonical encoding of a point not of small order. */
export function isValidKey(pub: Uint8Array): boolean {
  const A = decodePoint(pub, true);
  return A !== null && !A.isSmallOrder() && equal(A.toRawBytes(), pub);
}

/** Builds noble's base-point table ahead of the first verification (about 50 ms once per page). */
export function warmUp(): void {
  Point.BASE.multiplyUnsafe(2n);
}

/** Ed25519 signing, for tests only (deterministic, RFC 8032). */
export function sign(seed: Uint8Array, msg: Uint8Array): Uint8Array {
  return ed25519.sign(msg, seed);
}

export function publicKey(seed: Uint8Array): Uint8Array {
  return ed25519.getPublicKey(seed);
}
