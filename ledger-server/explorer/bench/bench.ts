/**
 * Performance of the explorer, measured (never asserted): `npm run bench`
 * after `npm run build`, with the release binaries in LEDGER_BIN_DIR.
 *
 * - home: navigation start to the home page rendered with a verified
 *   checkpoint, in fresh browser profiles against the demo on loopback;
 * - entry: one entry checked in the page (leaf through tiles, chain link,
 *   signature), and, in Node, an entry's leaf authenticated from cold tiles in
 *   a tree of 70,000 entries (three tile levels);
 * - receipt: a dropped receipt verified in the page, and the spec example in Node;
 * - bundle: the built JavaScript and CSS, raw and gzipped.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { concat, leafHash, parseVerifierKey, rootOf, TiledTree, tilePath, tileWidth, utf8, verifyReceipt } from '../src/verify';
import { cleanup, DIST, launch, startDemo, startProxy, tempDir } from '../e2e/harness';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms (n=${xs.length})`;

async function browserRuns(): Promise<string[]> {
  const dir = tempDir();
  const demo = await startDemo(dir);
  const proxy = await startProxy(demo.url);
  const browser = await launch();
  const out: string[] = [];
  try {
    const vkey = readFileSync(join(dir, 'ledger-demo/log.vkey'), 'utf8').trim();
    const home: number[] = [];
    const entry: number[] = [];
    for (let i = 0; i < 10; i++) {
      const context = await browser.newContext();
      await context.addInitScript((k) => localStorage.setItem('explorer.trust.vkey', k), vkey);
      const page = await context.newPage();
      await page.goto(`${proxy.url}/#/`);
      await page.locator('[data-verdict=ok]').waitFor({ timeout: 30_000 });
      home.push(await page.evaluate(() => performance.getEntriesByName('explorer:home-rendered')[0].startTime));
      await page.goto(`${proxy.url}/#/entry/9`);
      await page.locator('[data-verdict]').waitFor({ timeout: 30_000 });
      entry.push(await page.evaluate(() => (window as unknown as { __explorer: { entryMs: number } }).__explorer.entryMs));
      await context.close();
    }
    out.push(`home page rendered with a verified checkpoint (fresh profile each time): ${fmt(home)}`);
    out.push(`entry 9 checked in the page (tiles, chain link, signature; the page's first entry check): ${fmt(entry)}`);
    const receipt = await (await fetch(`${demo.url}/v1/receipts/4`)).text();
    const context = await browser.newContext();
    await context.addInitScript((k) => localStorage.setItem('explorer.trust.vkey', k), vkey);
    const page = await context.newPage();
    await page.goto(`${proxy.url}/#/receipt`);
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      await page.evaluate((t) => {
        (window as unknown as { __explorer?: object }).__explorer = {};
        const dt = new DataTransfer();
        dt.items.add(new File([t], 'r.tlog-proof'));
        document.querySelector('[data-testid=drop]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, receipt);
      // Polled from here: the page's CSP forbids the eval that waitForFunction needs.
      let ms: number | undefined;
      for (let tries = 0; ms === undefined && tries < 3000; tries++) {
        ms = await page.evaluate(() => (window as unknown as { __explorer: { receiptMs?: number } }).__explorer.receiptMs);
        if (ms === undefined) await new Promise((r) => setTimeout(r, 10));
      }
      times.push(ms!);
    }
    out.push(`receipt verified in the page, first drop: ${times[0].toFixed(1)} ms; later drops: ${fmt(times.slice(1))}`);
    await context.close();
  } finally {
    await browser.close();
    await proxy.close();
    await demo.stop();
    cleanup(dir);
  }
  return out;
}

async function nodeRuns(): Promise<string[]> {
  const n = 70_000;
  const leaves = Array.from({ length: n }, (_, i) => leafHash(utf8(`entry ${i}`)));
  const levels = [leaves];
  while (levels[levels.length - 1].length >= 256) {
    const below = levels[levels.length - 1];
    levels.push(Array.from({ length: Math.floor(below.length / 256) }, (_, i) => rootOf(below.slice(256 * i, 256 * i + 256))));
  }
  const tiles = new Map<string, Uint8Array>();
  levels.forEach((hashes, level) => {
    for (let idx = 0; idx * 256 < hashes.length; idx++) {
      const w = tileWidth(n, level, idx);
      if (w) tiles.set(tilePath(level, idx, w), concat(...hashes.slice(256 * idx, 256 * idx + w)));
    }
  });
  const head = { size: BigInt(n), root: rootOf(leaves) };
  const fetcher = async (p: string) => tiles.get(p)!;
  const times: number[] = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    const tree = new TiledTree(head, fetcher); // cold: root tiles and the path of tiles are hashed again
    await tree.leafHashAt((i * 1297) % n);
    times.push(performance.now() - t0);
  }
  const spec = readFileSync(join(__dirname, '../../../spec/receipts.md'), 'utf8');
  const receipt = /<!-- BEGIN GENERATED receipt-form-2 -->\n```text\n([\s\S]*?)```/.exec(spec)![1];
  const key = parseVerifierKey('ledger.example.gov/egov+50212484+ATvvfH3TMWnVfpsx5+0pcLBFaj0XVVu56hDI5szBcQJD');
  const r: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    verifyReceipt(utf8(receipt), key);
    r.push(performance.now() - t0);
  }
  return [
    `Node ${process.version}: an entry's leaf authenticated from cold tiles (tree of 70,000, 3 tile levels, tiles from memory): ${fmt(times)}`,
    `Node ${process.version}: receipts.md form-2 receipt verified (note signature, inclusion, statement signature): first ${r[0].toFixed(1)} ms; ${fmt(r.slice(1))}`,
  ];
}

function bundle(): string[] {
  return readdirSync(join(DIST, 'assets')).map((f) => {
    const b = readFileSync(join(DIST, 'assets', f));
    return `bundle ${f.replace(/-[A-Za-z0-9_-]{8}\./, '.')}: ${(b.length / 1024).toFixed(1)} KiB, ${(gzipSync(b).length / 1024).toFixed(1)} KiB gzipped`;
  });
}

const lines = [...bundle(), ...(await nodeRuns()), ...(await browserRuns())];
console.log(lines.join('\n'));
