/**
 * The explorer in headless Chromium against the real demo server: a verified
 * checkpoint, a dropped receipt, a tampered tile, a foreign log key, appends
 * proved consistent, and a fork reported with evidence that ledger-verify
 * accepts. Screenshots go to test-results/ (git-ignored).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ed25519 } from '@noble/curves/ed25519';
import { keyId, keyIdHex, toBase64 } from '../src/verify';
import { bin, cleanup, copyDir, launch, SERVES_EXPLORER, SHOTS, startDemo, startProxy, startStatic, submit, tempDir, DIST, type LedgerServer, type Proxy } from './harness';

let browser: Browser;
let dir: string;
let demo: LedgerServer;
let proxy: Proxy;
let vkey: string;
/** Where the page is opened: the demo itself when it serves the explorer (--explorer-dir), else a proxy serving dist/. */
let site: string;

beforeAll(async () => {
  dir = tempDir();
  demo = await startDemo(dir);
  proxy = await startProxy(demo.url);
  vkey = readFileSync(join(dir, 'ledger-demo/log.vkey'), 'utf8').trim();
  site = SERVES_EXPLORER ? demo.url : proxy.url;
  browser = await launch();
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await demo?.stop();
  cleanup(dir);
});

/** A fresh browser profile (empty localStorage) reading the page in English. */
async function newPage(init: Record<string, string> = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  await context.addInitScript((items) => {
    if (!sessionStorage.getItem('init')) {
      sessionStorage.setItem('init', '1');
      for (const [k, v] of Object.entries(items)) localStorage.setItem(k, v);
    }
  }, { 'explorer.lang': 'en', ...init });
  return { context, page: await context.newPage() };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

describe('explorer', () => {
  it('shows a verified checkpoint on the home page, with the witness policy met', async () => {
    const policy = readFileSync(join(dir, 'ledger-demo/witness-policy.txt'), 'utf8');
    const { context, page } = await newPage({ 'explorer.trust.vkey': vkey, 'explorer.trust.policy': policy });
    await page.goto(`${site}/#/`);
    const ok = page.locator('[data-verdict=ok]').first();
    await ok.waitFor({ timeout: 30_000 });
    expect(await ok.textContent()).toContain('The latest checkpoint is genuine');
    expect(Number(await page.getByTestId('tree-size').textContent())).toBeGreaterThanOrEqual(11);
    expect(await page.getByTestId('policy-status').textContent()).toContain('Witness policy met');
    await shot(page, 'home-en');
    await page.screenshot({ path: join(SHOTS, 'docs-explorer.png'), clip: { x: 0, y: 0, width: 1100, height: 830 } });
    await page.getByTestId('lang').click();
    await page.getByText('Checkpoint terbaru asli').waitFor();
    await shot(page, 'home-id');
    await page.setViewportSize({ width: 390, height: 844 });
    await shot(page, 'home-phone');
    await context.close();
  });

  it('shows a first-time visitor, who pinned nothing, the verdict with a warning, and pins the key in one click', async () => {
    const { context, page } = await newPage();
    await page.goto(`${site}/`);
    const warn = page.locator('[data-verdict=warn]');
    await warn.waitFor({ timeout: 30_000 });
    expect(await warn.textContent()).toContain('You have not pinned a log key');
    expect(await page.locator('[data-verdict=ok]').textContent()).toContain('verifies under the key this server announces');
    await shot(page, 'home-unpinned');
    await page.getByRole('button', { name: 'Pin this key' }).click();
    await page.getByText('The latest checkpoint is genuine').waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-verdict=warn]').count()).toBe(0);
    expect(await page.evaluate(() => localStorage.getItem('explorer.trust.vkey'))).toBe(vkey);
    await context.close();
  });

  it('verifies a receipt file dropped into the page, and refuses a tampered one', async () => {
    const receipt = await (await fetch(`${demo.url}/v1/receipts/4`)).text();
    const { context, page } = await newPage({ 'explorer.trust.vkey': vkey });
    await page.goto(`${site}/#/receipt`);
    const drop = async (text: string) =>
      page.evaluate((t) => {
        const dt = new DataTransfer();
        dt.items.add(new File([t], 'receipt.tlog-proof', { type: 'text/plain' }));
        document.querySelector('[data-testid=drop]')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, text);
    await drop(receipt);
    const result = page.locator('#receipt-result [data-verdict]').first();
    await result.waitFor({ timeout: 30_000 });
    expect(await result.getAttribute('data-verdict')).toBe('ok');
    expect(await result.textContent()).toContain('This receipt is valid');
    expect(await page.locator('#receipt-result').textContent()).toContain('still holds this entry');
    await shot(page, 'receipt-ok');
    const flipped = receipt.replace(/\nindex 4\n/, '\nindex 5\n');
    await drop(flipped);
    await page.locator('#receipt-result [data-verdict=fail]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#receipt-result').textContent()).toContain('This receipt is NOT valid');
    await shot(page, 'receipt-tampered');
    // Keyboard: the drop zone is focusable and Enter opens the file input (observed by its click event,
    // since a dialog's interception would race with the key press).
    await page.evaluate(() => document.querySelector('[data-testid=receipt-file]')!.addEventListener('click', (e) => (e.preventDefault(), document.body.setAttribute('data-chooser', 'opened'))));
    await page.getByTestId('drop').focus();
    await page.keyboard.press('Enter');
    await page.locator('body[data-chooser=opened]').waitFor({ timeout: 10_000 });
    await context.close();
  });

  it('names the tampered tile when a proxy changes one byte of it', async () => {
    const size = Number((await (await fetch(`${demo.url}/checkpoint`)).text()).split('\n')[1]);
    const tile = `tile/0/000.p/${size}`;
    const tampering = await startProxy(demo.url);
    tampering.tamper = (path, body) => {
      if (path !== tile) return body;
      const copy = body.slice();
      copy[40] ^= 1;
      return copy;
    };
    const { context, page } = await newPage({ 'explorer.trust.vkey': vkey });
    await page.goto(`${tampering.url}/#/`);
    const fail = page.locator('[data-verdict=fail]');
    await fail.waitFor({ timeout: 30_000 });
    expect(await fail.textContent()).toContain('A tile does not match the signed tree');
    expect(await page.getByTestId('error').textContent()).toContain(tile);
    await shot(page, 'tampered-tile');
    await context.close();
    await tampering.close();
  });

  it('works from a static mirror with no JSON API, reading entries from the signed bundles', async () => {
    const mirror = await startProxy(demo.url);
    mirror.hide = (path) => !(path === 'checkpoint' || path.startsWith('tile/'));
    const { context, page } = await newPage({ 'explorer.trust.vkey': vkey });
    await page.goto(`${mirror.url}/#/entries`);
    await page.getByText('This mirror has no search API').waitFor({ timeout: 30_000 });
    await page.locator('[data-testid=entry-status]').first().waitFor({ timeout: 30_000 });
    const statuses = await page.getByTestId('entry-status').allTextContents();
    expect(statuses.length).toBeGreaterThanOrEqual(11);
    expect(statuses.every((s) => s.includes('verified') && !s.includes('NOT'))).toBe(true);
    expect(await page.locator('tr[data-index]').first().getAttribute('data-index')).toBe(String(statuses.length - 1));
    await shot(page, 'mirror-entries');
    await context.close();
    await mirror.close();
  });

  it('runs from a static copy of the page, reading a mirror made by ledger-verify mirror with ?log=', async () => {
    const mirrorDir = join(dir, 'mirror');
    execFileSync(bin('ledger-verify'), ['mirror', '--log', demo.url, '--vkey-file', join(dir, 'ledger-demo/log.vkey'), '--out', mirrorDir], { encoding: 'utf8', timeout: 60_000 });
    const page_ = await startStatic(DIST);
    const files = await startStatic(mirrorDir);
    try {
      const { context, page } = await newPage({ 'explorer.trust.vkey': vkey });
      await page.goto(`${page_.url}/?log=${encodeURIComponent(files.url + '/')}#/`);
      await page.getByText('The latest checkpoint is genuine').waitFor({ timeout: 30_000 });
      await page.goto(`${page_.url}/?log=${encodeURIComponent(files.url + '/')}#/entries`);
      await page.getByText('This mirror has no search API').waitFor({ timeout: 30_000 });
      await page.locator('[data-testid=entry-status]').first().waitFor({ timeout: 30_000 });
      const statuses = await page.getByTestId('entry-status').allTextContents();
      expect(statuses.length).toBeGreaterThanOrEqual(11);
      expect(statuses.every((x) => x.includes('verified') && !x.includes('NOT'))).toBe(true);
      expect(await page.getByRole('button', { name: 'Show more' }).isVisible()).toBe(false);
      await shot(page, 'static-mirror');
      await context.close();
    } finally {
      await page_.close();
      await files.close();
    }
  });

  it('refuses a checkpoint when a different log key is pinned', async () => {
    const origin = vkey.split('+')[0];
    const pub = ed25519.getPublicKey(new Uint8Array(32).fill(9));
    const other = `${origin}+${keyIdHex(keyId(origin, 1, pub))}+${toBase64(new Uint8Array([1, ...pub]))}`;
    const { context, page } = await newPage({ 'explorer.trust.vkey': other });
    await page.goto(`${site}/#/`);
    const fail = page.locator('[data-verdict=fail]');
    await fail.waitFor({ timeout: 30_000 });
    expect(await fail.textContent()).toContain('WARNING: this server presents a different log key');
    expect(await page.locator('[data-verdict=ok]').count()).toBe(0);
    await shot(page, 'foreign-key');
    await context.close();
  });

  it('proves the remembered checkpoint consistent after appends', async () => {
    const { context, page } = await newPage({ 'explorer.trust.vkey': vkey });
    await page.goto(`${site}/#/history`);
    await page.locator('[data-history=first]').waitFor({ timeout: 30_000 });
    submit(dir, demo.url, 'E2E/1');
    submit(dir, demo.url, 'E2E/2');
    await page.reload();
    const box = page.locator('[data-history]');
    await box.waitFor({ timeout: 30_000 });
    expect(await box.getAttribute('data-history')).toBe('consistent');
    expect(await box.textContent()).toContain('The history only grew');
    await shot(page, 'history-consistent');
    await page.goto(`${site}/#/entries`);
    await page.locator('[data-testid=entry-status]').first().waitFor({ timeout: 30_000 });
    const statuses = await page.getByTestId('entry-status').allTextContents();
    expect(statuses.length).toBeGreaterThanOrEqual(13);
    expect(statuses.every((s) => s.includes('verified') && !s.includes('NOT'))).toBe(true);
    await shot(page, 'entries');
    await page.goto(`${site}/#/entry/12`);
    await page.locator('[data-verdict=ok]').waitFor({ timeout: 30_000 });
    expect(await page.locator('main').textContent()).toContain('E2E/2');
    await shot(page, 'entry');
    await page.goto(`${site}/#/agency/city-licensing`);
    await page.getByText('The agency_prev chain is unbroken').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('key-history').getAttribute('data-verdict')).toBe('ok');
    await shot(page, 'agency');
    await page.goto(`${site}/#/trust`);
    await page.getByTestId('pinned-key').waitFor();
    expect(await page.getByTestId('pinned-key').textContent()).toBe(vkey);
    await page.getByRole('button', { name: 'Check against the genesis entry' }).click();
    await page.getByText('Entry 0 (the genesis').waitFor({ timeout: 30_000 });
    expect(await page.locator('main').textContent()).toContain('It names the authority key');
    await shot(page, 'trust');
    await context.close();
  });
});

describe('a forked server', () => {
  it('is reported as a fork, with evidence that ledger-verify proves', async () => {
    const a = tempDir();
    const b = tempDir();
    let serverA: LedgerServer | null = null;
    let serverB: LedgerServer | null = null;
    let fp: Proxy | null = null;
    try {
      const first = await startDemo(a);
      await first.stop();
      copyDir(join(a, 'ledger-demo'), join(b, 'ledger-demo'));
      serverA = await startDemo(a);
      serverB = await startDemo(b, ['--no-witnesses']);
      submit(a, serverA.url, 'HONEST/1');
      submit(b, serverB.url, 'FORK/1');
      submit(b, serverB.url, 'FORK/2');
      const key = readFileSync(join(a, 'ledger-demo/log.vkey'), 'utf8').trim();
      const { context, page } = await newPage({ 'explorer.trust.vkey': key });
      let forkUrl: string;
      if (SERVES_EXPLORER) {
        // The page served by the honest server, reading the forked copy across origins (?log=, CORS).
        await page.goto(`${serverA.url}/#/history`);
        await page.locator('[data-history=first]').waitFor({ timeout: 30_000 });
        forkUrl = `${serverA.url}/?log=${encodeURIComponent(serverB.url + '/')}#/history`;
      } else {
        fp = await startProxy(serverA.url);
        await page.goto(`${fp.url}/#/history`);
        await page.locator('[data-history=first]').waitFor({ timeout: 30_000 });
        fp.upstream = serverB.url; // the same page, now reading the forked copy
        forkUrl = `${fp.url}/#/history`;
      }
      await page.goto(forkUrl);
      const box = page.locator('[data-history]');
      await box.waitFor({ timeout: 30_000 });
      expect(await box.getAttribute('data-history')).toBe('fork');
      expect(await box.textContent()).toContain('FORK');
      if (SERVES_EXPLORER) expect(await page.getByTestId('log-url').textContent()).toBe(serverB.url + '/');
      // The home page leads with the fork too (the remembered checkpoint is kept, so every visit shows it).
      await page.goto(forkUrl.replace('#/history', '#/'));
      await page.locator('[data-verdict=fail]').first().waitFor({ timeout: 30_000 });
      expect(await page.locator('[data-verdict=fail]').first().textContent()).toContain('FORK');
      await page.goto(forkUrl);
      await box.waitFor({ timeout: 30_000 });
      await shot(page, 'fork');
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a[download]').click()]);
      const evidence = join(a, 'evidence.json');
      await download.saveAs(evidence);
      const out = execFileSync(bin('ledger-verify'), ['evidence', 'verify', evidence, '--vkey', key], { encoding: 'utf8' });
      expect(out.toLowerCase()).toContain('prove');
      writeFileSync(join(SHOTS, 'fork-evidence.json'), readFileSync(evidence));
      await context.close();
    } finally {
      await fp?.close();
      await serverA?.stop();
      await serverB?.stop();
      cleanup(a);
      cleanup(b);
    }
  });
});
