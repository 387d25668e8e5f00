/** A tiny DOM helper: no framework, just elements. */
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | boolean | ((e: Event) => void) | undefined> = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** A verdict box: `ok`, `fail` (proven problem), `warn` (could not check / attention). */
export function verdict(kind: 'ok' | 'fail' | 'warn' | 'info', title: string, ...body: (Child | Child[])[]): HTMLElement {
  const icon = { ok: '✔', fail: '✘', warn: '!', info: 'i' }[kind];
  return h(
    'section',
    { class: `verdict ${kind}`, role: kind === 'fail' ? 'alert' : 'status', 'data-verdict': kind },
    h('h2', {}, h('span', { class: 'icon', 'aria-hidden': 'true' }, icon), ' ', title),
    ...body,
  );
}

/** A list of the checks that were made, each with its result. */
export function checks(items: [boolean | null, string][]): HTMLElement {
  return h(
    'ul',
    { class: 'checks' },
    items.map(([ok, text]) => h('li', { class: ok === null ? 'skip' : ok ? 'pass' : 'miss' }, h('span', { 'aria-hidden': 'true' }, ok === null ? '–' : ok ? '✔' : '✘'), ' ', text)),
  );
}

export function dl(rows: [string, Child | Child[]][]): HTMLElement {
  return h('dl', {}, rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, ...(Array.isArray(v) ? v : [v]))]));
}

export const code = (s: string) => h('code', {}, s);
export const short = (hex: string) => h('code', { title: hex }, hex.slice(0, 16) + '…');

export function download(name: string, text: string, label: string): HTMLElement {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  return h('a', { href: url, download: name, class: 'button' }, label);
}
