/**
 * Tiles (c2sp.org/tlog-tiles; checkpoints-and-tiles.md §4, §5, §7): paths,
 * widths, entry bundles, and a tree whose tiles are authenticated against an
 * opened checkpoint before any hash in them is used. The network is a function
 * the caller passes in; nothing here fetches by itself.
 */
import { equal, fail } from './bytes';
import type { TreeHead } from './checkpoint';
import { EMPTY_ROOT } from './checkpoint';
import { leafHash, nodeHash, rootOf, splitPoint, toSafeSize } from './merkle';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;

/** `<N>` in groups of three digits, all but the last prefixed with `x` (§4.3). */
export function encodeIndex(n: number): string {
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

/** `tile/<L>/<N>[.p/<W>]`, or `tile/entries/<N>[.p/<W>]` for level -1. */
export function tilePath(level: number | 'entries', index: number, width: number): string {
  const partial = width < TILE_WIDTH ? `.p/${width}` : '';
  return `tile/${level}/${encodeIndex(index)}${partial}`;
}

/** The width of tile (level, index) in a tree of `size`, or 0 if it does not exist there (§4.2). */
export function tileWidth(size: number, level: number, index: number): number {
  const hashes = Math.floor(size / TILE_WIDTH ** level);
  if ((index + 1) * TILE_WIDTH <= hashes) return TILE_WIDTH;
  if (index === Math.floor(hashes / TILE_WIDTH)) return hashes % TILE_WIDTH;
  return 0;
}

/**
 * Parses an entry bundle (§5): 2-byte big-endian lengths and entries, exactly
 * `width` of them, nothing after.
 *
 * @throws VerifyError `bad_bundle`
 */
export function parseBundle(data: Uint8Array, width: number, path = 'bundle'): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at < data.length) {
    if (entries.length === TILE_WIDTH) fail('bad_bundle', `${path}: more than 256 entries`);
    if (at + 2 > data.length) fail('bad_bundle', `${path}: ends inside a length`);
    const n = (data[at] << 8) | data[at + 1];
    if (at + 2 + n > data.length) fail('bad_bundle', `${path}: ends inside an entry`);
    entries.push(data.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  if (entries.length === 0 || entries.length !== width)
    fail('bad_bundle', `${path}: ${entries.length} entries, expected ${width}`);
  return entries;
}

/** Splits tile data into hashes, refusing any length but 32·W (§7.1). */
function splitTile(data: Uint8Array, width: number, path: string): Uint8Array[] {
  if (data.length !== 32 * width) fail('bad_tile', `${path}: ${data.length} bytes, expected ${32 * width}`);
  return Array.from({ length: width }, (_, i) => data.slice(32 * i, 32 * i + 32));
}

/** Fetches a path relative to the log's URL prefix; rejects (throws) on any failure. */
export type Fetcher = (path: string) => Promise<Uint8Array>;

/**
 * The tree of an opened checkpoint, read from tiles. Every tile is
 * authenticated (§7.1) before a hash from it is used: the root tiles together
 * against the checkpoint's root, every other tile against its parent's hash.
 * An error names the tile that failed.
 */
export class TiledTree {
  readonly size: number;
  /** Authenticated tiles (or their authentication in progress), by path. */
  private readonly tiles = new Map<string, Promise<Uint8Array[]>>();
  /** Root tiles read but not yet authenticated: never handed out. */
  private readonly pending = new Map<string, Promise<Uint8Array[]>>();
  private rootChecked: Promise<void> | null = null;

  constructor(
    readonly head: TreeHead,
    private readonly fetcher: Fetcher,
  ) {
    this.size = toSafeSize(head.size);
  }

  /** Authenticates the root tiles (the partial tiles of every level) against the root. */
  checkRoot(): Promise<void> {
    this.rootChecked ??= this.authenticateRootTiles();
    return this.rootChecked;
  }

  private async authenticateRootTiles(): Promise<void> {
    if (this.size === 0) {
      if (!equal(this.head.root, EMPTY_ROOT)) fail('bad_root', 'size 0 with another root');
      return;
    }
    const subtrees: Uint8Array[] = []; // highest first
    const paths: string[] = [];
    for (let level = this.topLevel(); level >= 0; level--) {
      const index = Math.floor(this.size / TILE_WIDTH ** (level + 1));
      const width = tileWidth(this.size, level, index);
      if (width === 0 || width === TILE_WIDTH) continue;
      const path = tilePath(level, index, width);
      paths.push(path);
      const hashes = await this.fetchTile(level, index, width);
      let f = 0;
      for (let k = TILE_HEIGHT - 1; k >= 0; k--) {
        if (width & (1 << k)) {
          subtrees.push(rootOf(hashes.slice(f, f + (1 << k))));
          f += 1 << k;
        }
      }
    }
    let root = subtrees[subtrees.length - 1];
    for (let i = subtrees.length - 2; i >= 0; i--) root = nodeHash(subtrees[i], root);
    if (!equal(root, this.head.root)) fail('bad_tile', `${paths.join(', ')}: the tiles do not hash to the checkpoint's root`);
    for (const [key, p] of this.pending) this.tiles.set(key, p);
    this.pending.clear();
  }

  private topLevel(): number {
    let level = 0;
    while (TILE_WIDTH ** (level + 1) <= this.size) level++;
    return level;
  }

  private fetchTile(level: number, index: number, width: number): Promise<Uint8Array[]> {
    const path = tilePath(level, index, width);
    let p = this.pending.get(path);
    if (!p) {
      p = this.fetcher(path).then(
        (data) => splitTile(data, width, path),
        (e) => fail('fetch_failed', `${path}: ${e instanceof Error ? e.message : String(e)}`),
      );
      this.pending.set(path, p);
    }
    return p;
  }

  /** The authenticated hashes of tile (level, index). */
  tile(level: number, index: number): Promise<Uint8Array[]> {
    const width = tileWidth(this.size, level, index);
    if (width === 0) fail('out_of_range', `tile ${level}/${index} is not in a tree of ${this.size}`);
    const path = tilePath(level, index, width);
    let p = this.tiles.get(path);
    if (!p) {
      p = width < TILE_WIDTH ? this.checkRoot().then(() => this.tiles.get(path)!) : this.authenticateFull(level, index, path);
      this.tiles.set(path, p);
      p.catch(() => this.tiles.delete(path));
    }
    return p;
  }

  private async authenticateFull(level: number, index: number, path: string): Promise<Uint8Array[]> {
    const parent = await this.tile(level + 1, Math.floor(index / TILE_WIDTH));
    const data = await this.fetcher(path).catch((e) =>
      fail('fetch_failed', `${path}: ${e instanceof Error ? e.message : String(e)}`),
    );
    const hashes = splitTile(data, TILE_WIDTH, path);
    if (!equal(rootOf(hashes), parent[index % TILE_WIDTH]))
      fail('bad_tile', `${path}: does not hash to its parent tile's hash`);
    return hashes;
  }

  /** The hash of the complete subtree of height h holding leaves [n·2^h, (n+1)·2^h) (§7.2). */
  async subtree(h: number, n: number): Promise<Uint8Array> {
    const level = Math.floor(h / TILE_HEIGHT);
    const k = h % TILE_HEIGHT;
    const f = n * 2 ** k;
    const hashes = await this.tile(level, Math.floor(f / TILE_WIDTH));
    const slot = f % TILE_WIDTH;
    return rootOf(hashes.slice(slot, slot + 2 ** k));
  }

  /** The Merkle tree hash of leaves [lo, hi), a range an RFC 9162 proof uses. */
  rangeHash = async (lo: number, hi: number): Promise<Uint8Array> => {
    if (hi > this.size || lo >= hi) fail('out_of_range', `leaves ${lo}..${hi} in a tree of ${this.size}`);
    const n = hi - lo;
    const h = Math.log2(n);
    if (Number.isInteger(h) && lo % n === 0) return this.subtree(h, lo / n);
    const k = splitPoint(n);
    return nodeHash(await this.rangeHash(lo, lo + k), await this.rangeHash(lo + k, hi));
  };

  /** The authenticated leaf hash of entry `index`. */
  async leafHashAt(index: number): Promise<Uint8Array> {
    if (index >= this.size) fail('out_of_range', `entry ${index} is not in a tree of ${this.size}`);
    const hashes = await this.tile(0, Math.floor(index / TILE_WIDTH));
    return hashes[index % TILE_WIDTH];
  }

  /**
   * Entries of bundle `n`, each checked against the authenticated level-0 tile
   * (§5, §7.1).
   */
  async bundle(n: number): Promise<Uint8Array[]> {
    const width = tileWidth(this.size, 0, n);
    if (width === 0) fail('out_of_range', `bundle ${n} is not in a tree of ${this.size}`);
    const path = tilePath('entries', n, width);
    const [hashes, data] = await Promise.all([
      this.tile(0, n),
      this.fetcher(path).catch((e) => fail('fetch_failed', `${path}: ${e instanceof Error ? e.message : String(e)}`)),
    ]);
    const entries = parseBundle(data, width, path);
    entries.forEach((e, i) => {
      if (!equal(leafHash(e), hashes[i])) fail('bad_bundle', `${path}: entry ${n * TILE_WIDTH + i} does not match its leaf hash`);
    });
    return entries;
  }
}
