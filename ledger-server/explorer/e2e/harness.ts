/**
 * Browser test harness: the real binaries (LEDGER_BIN_DIR, default
 * ../../target/release), a static and proxying HTTP server on loopback (it
 * serves dist/ and forwards everything else to a switchable upstream,
 * optionally changing bytes on the way), and headless Chromium.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

export const ROOT = resolve(__dirname, '..');
export const DIST = join(ROOT, 'dist');
export const SHOTS = join(ROOT, 'test-results');
export const BIN = resolve(process.env.LEDGER_BIN_DIR ?? join(ROOT, '../../target/release'));

export function bin(name: string): string {
  const p = join(BIN, name);
  if (!existsSync(p)) throw new Error(`${p} is missing: build with cargo build --release --workspace --bins, or set LEDGER_BIN_DIR`);
  return p;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'explorer-e2e-'));
}

/** A running `ledger-server` on 127.0.0.1:0. */
export interface LedgerServer {
  url: string;
  dir: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

const hasExplorerDir = () => {
  try {
    return execFileSync(bin('ledger-server'), ['demo', '--help'], { encoding: 'utf8' }).includes('--explorer-dir');
  } catch {
    return false;
  }
};
/** Whether this build of ledger-server serves the explorer itself (`--explorer-dir`). */
export const SERVES_EXPLORER = hasExplorerDir();

/** Starts `ledger-server <args> --listen 127.0.0.1:0` in `dir` and waits for its address and /healthz. */
export async function startServer(dir: string, args: string[]): Promise<LedgerServer> {
  const proc = spawn(bin('ledger-server'), [...args, '--listen', '127.0.0.1:0'], { cwd: dir, env: { ...process.env, RUST_LOG: 'info', NO_COLOR: '1' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolveUrl, reject) => {
    let log = '';
    const timer = setTimeout(() => reject(new Error(`ledger-server did not start:\n${log}`)), 60_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = / on (http:\/\/127\.0\.0\.1:\d+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`ledger-server exited (${code}):\n${log}`)));
  });
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok).catch(() => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const stop = () =>
    new Promise<void>((done) => {
      if (proc.exitCode !== null) return done();
      const kill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      proc.once('exit', () => (clearTimeout(kill), done()));
      proc.kill('SIGTERM');
    });
  return { url, dir, proc, stop };
}

/** Starts the demo in `dir`, serving the explorer when the server can. */
export function startDemo(dir: string, extra: string[] = []): Promise<LedgerServer> {
  return startServer(dir, ['demo', ...(SERVES_EXPLORER ? ['--explorer-dir', DIST] : []), ...extra]);
}

export function copyDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
}

/** Runs agency-client submit against `url` as city-licensing, waiting for a verified receipt. */
export function submit(dir: string, url: string, subject: string): string {
  return execFileSync(
    bin('agency-client'),
    ['submit', '--server', url, '--key', 'ledger-demo/agencies/city-licensing.key', '--agency', 'city-licensing', '--type', 'decision.permit.building', '--channel', 'G2C', '--subject', subject, '--object', '{"outcome":"granted"}', '--wait', '--timeout', '30'],
    { cwd: dir, encoding: 'utf8', timeout: 60_000 },
  );
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml' };

/** Serves dist/ at / and forwards every other path to `upstream`, through `tamper`. */
export interface Proxy {
  url: string;
  upstream: string;
  tamper: ((path: string, body: Uint8Array) => Uint8Array) | null;
  /** Answer 404 for these paths (a static mirror has no JSON API). */
  hide: ((path: string) => boolean) | null;
  close(): Promise<void>;
}

export async function startProxy(upstream: string): Promise<Proxy> {
  const proxy = { upstream, tamper: null, hide: null } as Proxy;
  const server = http.createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const file = path === '/' ? 'index.html' : path.startsWith('/assets/') ? path.slice(1) : null;
    if (file && existsSync(join(DIST, file))) {
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      return res.end(readFileSync(join(DIST, file)));
    }
    if (proxy.hide?.(path.slice(1))) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      return res.end('not found');
    }
    try {
      const r = await fetch(proxy.upstream + req.url, { headers: { 'accept-encoding': 'identity' } });
      let body: Uint8Array = new Uint8Array(await r.arrayBuffer());
      if (proxy.tamper && r.ok) body = proxy.tamper(path.slice(1), body);
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch (e) {
      res.writeHead(502);
      res.end(String(e));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  proxy.url = `http://127.0.0.1:${addr.port}`;
  proxy.close = () => new Promise((r) => (server.closeAllConnections(), server.close(() => r())));
  return proxy;
}

/**
 * A plain static file server over `root` on loopback, with CORS as a public
 * mirror would have: what a careful user runs (a built copy of the page, or a
 * mirror of the log's files).
 */
export async function startStatic(root: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    const file = join(root, path === '/' ? 'index.html' : path);
    if (!file.startsWith(root) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404, { 'access-control-allow-origin': '*' });
      return res.end('not found');
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'access-control-allow-origin': '*' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))) };
}

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'];

export function launch(): Promise<Browser> {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: CHROMIUM_ARGS, timeout: 60_000 });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
