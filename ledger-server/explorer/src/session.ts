/**
 * The page's view of one log: where it is, which keys it trusts (localStorage),
 * and the checkpoint it opened and verified on this visit. All network access
 * of the page is here; all checks are in ./verify.
 */
import {
  checkHistory, evaluatePolicy, fromBase64, openCheckpoint, parsePolicy, parseVerifierKey, TiledTree, toBase64,
  VerifyError, type HistoryVerdict, type OpenedCheckpoint, type PolicyVerdict, type VerifierKey, tilePath, tileWidth,
} from './verify';

const LS = {
  vkey: 'explorer.trust.vkey',
  authority: 'explorer.trust.authority',
  policy: 'explorer.trust.policy',
  seen: (vkey: string) => `explorer.seen.${vkey}`,
};

/** The log's base URL: `?log=URL`, else the page's own directory. */
export function logUrl(): string {
  const q = new URLSearchParams(location.search).get('log');
  const base = q ?? new URL('.', location.href).href;
  return base.endsWith('/') ? base : base + '/';
}

/** The most bytes the page reads for a path: a note, a full tile, a full bundle (checkpoints-and-tiles.md §2.1, §4.1, §5). */
export function sizeLimit(path: string): number {
  if (path.startsWith('tile/entries/')) return 256 * (2 + 65535);
  if (path.startsWith('tile/')) return 8192;
  return 65536;
}

/** Reads a path of the log, refusing a (decoded) body above its size limit while reading it. */
export async function fetchBytes(path: string): Promise<Uint8Array> {
  const r = await fetch(new URL(path, logUrl()), { cache: 'no-store' });
  if (!r.ok) throw new Error(`HTTP ${r.status}`);
  const limit = sizeLimit(path);
  const reader = r.body!.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.length;
    if (n > limit) {
      void reader.cancel();
      throw new Error(`larger than ${limit} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
}

/** A JSON API read, or null when the mirror has no such API. */
export async function fetchJson<T>(path: string): Promise<T | null> {
  try {
    const r = await fetch(new URL(path, logUrl()), { cache: 'no-store' });
    if (!r.ok || !(r.headers.get('content-type') ?? '').includes('json')) return null;
    return (await r.json()) as T;
  } catch {
    return null;
  }
}

export interface LogInfo {
  origin: string;
  vkey: string;
  authority_key: string;
  size: number;
  checkpoint_size: number;
}

export const trust = {
  vkey: () => localStorage.getItem(LS.vkey),
  authority: () => localStorage.getItem(LS.authority),
  policy: () => localStorage.getItem(LS.policy),
  set(key: 'vkey' | 'authority' | 'policy', value: string | null) {
    if (value === null || value.trim() === '') localStorage.removeItem(LS[key]);
    else localStorage.setItem(LS[key], key === 'policy' ? value : value.trim());
  },
};

export interface Verified {
  logKey: VerifierKey;
  /** Whether the key was pinned by the user (else: announced by the server). */
  pinned: boolean;
  opened: OpenedCheckpoint;
  tree: TiledTree;
  rootTiles: string[];
  policy: PolicyVerdict | null;
  history: HistoryVerdict | { kind: 'error'; error: unknown };
  remembered: Uint8Array | null;
  verifiedAt: number;
  tookMs: number;
}

export type SessionResult =
  | { ok: true; v: Verified }
  | { ok: false; error: unknown; keyMismatch?: { pinned: string; server: string }; info: LogInfo | null };

let session: Promise<SessionResult> | null = null;

/** Opens and verifies the log's current checkpoint once per page load. */
export function current(): Promise<SessionResult> {
  session ??= verifyCurrent();
  return session;
}

export function reset(): void {
  session = null;
}

function rootTilePaths(size: number): string[] {
  const out: string[] = [];
  for (let level = 0; 256 ** level <= size; level++) {
    const index = Math.floor(size / 256 ** (level + 1));
    const w = tileWidth(size, level, index);
    if (w > 0 && w < 256) out.push(tilePath(level, index, w));
  }
  return out;
}

/** Phase 1: the key to verify with: the pinned one, refused when the server announces another; else the announced one. */
function chooseKey(info: LogInfo | null): VerifierKey | Extract<SessionResult, { ok: false }> {
  const pinnedText = trust.vkey();
  let logKey: VerifierKey;
  try {
    logKey = parseVerifierKey(pinnedText ?? info?.vkey ?? '');
  } catch (e) {
    return { ok: false, error: pinnedText || info ? e : new VerifyError('no_key'), info };
  }
  if (pinnedText && info && info.vkey !== logKey.text) {
    let same = false;
    try {
      same = parseVerifierKey(info.vkey).text === logKey.text;
    } catch {
      /* a malformed announced key is a mismatch */
    }
    if (!same) return { ok: false, error: new VerifyError('no_log_signature', 'the server announces another key'), keyMismatch: { pinned: logKey.text, server: info.vkey }, info };
  }
  return logKey;
}

/** Phase 3: relate the checkpoint to the one remembered, and remember it when it extends that one. */
async function relateHistory(logKey: VerifierKey, bytes: Uint8Array, opened: OpenedCheckpoint, tree: TiledTree): Promise<{ history: Verified['history']; remembered: Uint8Array | null }> {
  const seenKey = LS.seen(logKey.text);
  const seenText = localStorage.getItem(seenKey);
  const remembered = seenText ? fromBase64(seenText) : null;
  try {
    const seen = remembered ? openCheckpoint(remembered, logKey) : null;
    const history = await checkHistory(logKey, seen && { head: seen.checkpoint, bytes: remembered! }, { head: opened.checkpoint, bytes }, tree, Date.now());
    if (history.kind === 'first' || history.kind === 'consistent') localStorage.setItem(seenKey, toBase64(bytes));
    return { history, remembered };
  } catch (error) {
    return { history: { kind: 'error', error }, remembered };
  }
}

async function verifyCurrent(): Promise<SessionResult> {
  const started = performance.now();
  const info = await fetchJson<LogInfo>('v1/log');
  const logKey = chooseKey(info);
  if ('ok' in logKey) return logKey;
  try {
    // Phase 2: open the checkpoint and authenticate the tree's root tiles against it.
    const bytes = await fetchBytes('checkpoint').catch((e) => {
      throw new VerifyError('fetch_failed', `checkpoint: ${(e as Error).message}`);
    });
    const opened = openCheckpoint(bytes, logKey);
    const tree = new TiledTree(opened.checkpoint, (p) => fetchBytes(p));
    await tree.checkRoot();
    const policyText = trust.policy();
    const policy = policyText ? evaluatePolicy(parsePolicy(policyText), bytes) : null;
    const { history, remembered } = await relateHistory(logKey, bytes, opened, tree);
    const tookMs = performance.now() - started;
    performance.mark('explorer:checkpoint-verified');
    return { ok: true, v: { logKey, pinned: trust.vkey() !== null, opened, tree, rootTiles: rootTilePaths(tree.size), policy, history, remembered, verifiedAt: Date.now(), tookMs } };
  } catch (error) {
    // A checkpoint signed by another key: say so loudly when a key is pinned.
    const mismatch = error instanceof VerifyError && error.code === 'no_log_signature' && trust.vkey() !== null;
    return { ok: false, error, info, keyMismatch: mismatch ? { pinned: logKey.text, server: info?.vkey ?? '?' } : undefined };
  }
}

export function forgetRemembered(vkey: string): void {
  localStorage.removeItem(LS.seen(vkey));
}

