/** Test helpers: files read in place from the repository and ../shared/interop. */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../../..');
export const INTEROP = resolve(REPO, '../shared/interop');

export const readBytes = (p: string) => new Uint8Array(readFileSync(p));
export const readText = (p: string) => readFileSync(p, 'utf8');

/** The text of a `<!-- BEGIN GENERATED name -->` block of a spec file. */
export function specBlock(file: string, name: string): string {
  const md = readText(join(REPO, 'spec', file));
  const m = new RegExp(`<!-- BEGIN GENERATED ${name} -->\\n\`\`\`text\\n([\\s\\S]*?)\`\`\`\\n<!-- END GENERATED ${name} -->`).exec(md);
  if (!m) throw new Error(`no block ${name} in spec/${file}`);
  return m[1];
}

/** Every file under a directory, recursively. */
export function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** One value from a "label: value" line of a generated block. */
export function labelled(block: string, label: string): string {
  const line = block.split('\n').find((l) => l.startsWith(label));
  if (!line) throw new Error(`no ${label}`);
  return line.slice(label.length).trim();
}
