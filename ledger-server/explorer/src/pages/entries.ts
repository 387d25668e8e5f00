/**
 * Entries: search through the JSON API when the log has one (else browse the
 * signed entry bundles), and one entry in full. Every row earns its
 * "verified" mark from the tiles.
 */
import { errorText, formatTime, t } from '../i18n';
import { fromBase64, leafHash, stringifyJson, toHex } from '../verify';
import { fetchJson, type Verified } from '../session';
import { checks, code, dl, h, short, verdict } from '../ui';
import { requireVerified } from './common';
import { checkEntry, type EntryCheck } from './entrycheck';

interface EntryJson {
  index: number;
  entry_b64: string;
}

const PAGE = 25;

export async function entriesPage(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('entries_title')));
  const v = await requireVerified(main);
  if (!v) return;
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const field = (_name: string, label: string, input: HTMLElement) => h('label', {}, h('span', {}, label), input);
  const agency = h('input', { name: 'agency', value: q.get('agency') ?? '', autocomplete: 'off', pattern: '[a-z0-9.\\-]*' });
  const type = h('input', { name: 'type', value: q.get('type') ?? '', autocomplete: 'off' });
  const channel = h('select', { name: 'channel' }, h('option', { value: '' }, t('any')), ...['G2C', 'G2B', 'G2G'].map((c) => h('option', { value: c, selected: q.get('channel') === c }, `${c} (${t(`channel_${c}` as 'channel_G2C')})`)));
  const since = h('input', { name: 'since', type: 'date', value: q.get('since')?.slice(0, 10) ?? '' });
  const until = h('input', { name: 'until', type: 'date', value: q.get('until')?.slice(0, 10) ?? '' });
  const form = h(
    'form',
    { class: 'filters', role: 'search', onsubmit: (e: Event) => {
      e.preventDefault();
      const p = new URLSearchParams();
      if (agency.value) p.set('agency', agency.value);
      if (type.value) p.set('type', type.value);
      if (channel.value) p.set('channel', channel.value);
      if (since.value) p.set('since', `${since.value}T00:00:00Z`);
      if (until.value) p.set('until', `${until.value}T00:00:00Z`);
      location.hash = `#/entries?${p}`;
    } },
    field('agency', t('filter_agency'), agency), field('type', t('filter_type'), type), field('channel', t('filter_channel'), channel),
    field('since', t('filter_since'), since), field('until', t('filter_until'), until),
    h('button', { type: 'submit' }, t('search')),
  );
  const tbody = h('tbody');
  const table = h('table', { class: 'entries' }, h('thead', {}, h('tr', {}, ['col_index', 'col_time', 'col_agency', 'col_type', 'col_channel', 'col_subject', 'col_status'].map((k) => h('th', { scope: 'col' }, t(k as 'col_index'))))), tbody);
  const source = h('p', { class: 'note' });
  const more = h('button', { type: 'button', hidden: true }, t('more'));
  main.append(form, source, h('div', { class: 'scroll' }, table), more);
  await listEntries(v, q, tbody, source, more);
}

async function listEntries(v: Verified, q: URLSearchParams, tbody: HTMLElement, source: HTMLElement, more: HTMLButtonElement): Promise<void> {
  const probe = await fetchJson<{ entries: EntryJson[]; next_cursor: string | null }>(`v1/entries?${new URLSearchParams({ ...Object.fromEntries(q), limit: String(PAGE) })}`);
  if (probe) {
    source.textContent = t('entries_source_api');
    let page = probe;
    for (;;) {
      await addRows(v, tbody, page.entries.map((e) => [e.index, fromBase64(e.entry_b64) ?? new Uint8Array()]));
      if (!page.next_cursor) break;
      const cursor = page.next_cursor;
      more.hidden = false;
      await new Promise<void>((resolve) => (more.onclick = () => resolve()));
      const next = await fetchJson<typeof probe>(`v1/entries?${new URLSearchParams({ ...Object.fromEntries(q), cursor, limit: String(PAGE) })}`);
      if (!next) break;
      page = next;
    }
    more.hidden = true;
    if (!tbody.children.length) tbody.append(h('tr', {}, h('td', { colspan: '7' }, t('no_entries'))));
    return;
  }
  source.textContent = t('entries_source_tiles');
  const filter = (c: EntryCheck) => {
    const s = c.statement;
    if (!s) return true;
    return (!q.get('agency') || s.agency === q.get('agency')) && (!q.get('type') || s.type === q.get('type')) && (!q.get('channel') || s.channel === q.get('channel'));
  };
  for (let b = Math.floor((v.tree.size - 1) / 256); b >= 0; b--) {
    const entries = await v.tree.bundle(b);
    const rows = entries.map((e, i) => [b * 256 + i, e] as [number, Uint8Array]).reverse();
    await addRows(v, tbody, rows, filter);
    if (b > 0) {
      more.hidden = false;
      await new Promise<void>((resolve) => (more.onclick = () => resolve()));
    }
  }
  more.hidden = true;
}

async function addRows(v: Verified, tbody: HTMLElement, rows: [number, Uint8Array][], filter: (c: EntryCheck) => boolean = () => true): Promise<void> {
  for (const [index, bytes] of rows) {
    const c = await checkEntry(v, index, bytes);
    if (!filter(c)) continue;
    const s = c.statement;
    tbody.append(
      h(
        'tr',
        { 'data-index': String(index) },
        h('td', {}, h('a', { href: `${location.search}#/entry/${index}` }, String(index))),
        h('td', {}, c.envelope ? formatTime(c.envelope.sequencedAtMs) : '—'),
        h('td', {}, s ? h('a', { href: `${location.search}#/agency/${s.agency}` }, s.agency) : '—'),
        h('td', {}, s?.type ?? '—'),
        h('td', {}, s?.channel ?? '—'),
        h('td', {}, s?.subject ?? ''),
        index >= v.tree.size
          ? h('td', { class: 'skip', 'data-testid': 'entry-status' }, `– ${t('not_yet')}`)
          : h('td', { class: c.verified ? 'pass' : 'miss', 'data-testid': 'entry-status' }, c.verified ? `✔ ${t('verified')}` : `✘ ${t('not_verified')}`),
      ),
    );
  }
}

/** One entry: its decoded statement, both chain positions, and the checks. */
export async function entryPage(main: HTMLElement, arg: string): Promise<void> {
  const index = Number(arg);
  main.append(h('h1', {}, t('entry_title', { index })));
  const v = await requireVerified(main);
  if (!v) return;
  let bytes: Uint8Array | null = null;
  const j = await fetchJson<EntryJson>(`v1/entries/${index}`);
  if (j) bytes = fromBase64(j.entry_b64);
  if (!bytes && index < v.tree.size) bytes = (await v.tree.bundle(Math.floor(index / 256)).catch(() => []))[index % 256] ?? null;
  const c = await checkEntry(v, index, bytes ?? new Uint8Array());
  (window as unknown as { __explorer: Record<string, number> }).__explorer ??= {};
  (window as unknown as { __explorer: Record<string, number> }).__explorer.entryMs = c.ms;
  main.append(
    c.verified
      ? verdict('ok', t('entry_verified'), h('p', {}, t('entry_verified_body', { index, size: v.tree.size })))
      : verdict('fail', t('entry_failed'), c.error ? h('p', { 'data-testid': 'error' }, errorText(c.error)) : ''),
    checks(c.checks),
  );
  const s = c.statement;
  const e = c.envelope;
  if (!e) return;
  main.append(
    dl([
      ...(s
        ? ([
            [t('f_agency'), h('a', { href: `${location.search}#/agency/${s.agency}` }, s.agency)],
            [t('f_type'), code(s.type)],
            [t('f_channel'), `${s.channel} (${t(`channel_${s.channel}`)})`],
            [t('f_subject'), s.subject ?? t('none')],
            [t('f_occurred'), s.occurredAt],
            [t('f_submission'), code(s.submissionId)],
            [t('f_commitment'), s.payloadCommitment ? short(s.payloadCommitment) : t('none')],
          ] as [string, HTMLElement | string][])
        : []),
      [t('f_sequenced'), formatTime(e.sequencedAtMs)],
      [t('f_prev'), index > 0 ? [h('a', { href: `${location.search}#/entry/${index - 1}` }, String(index - 1)), ' ', short(toHex(e.prev))] : t('none')],
      [t('f_agency_prev'), e.agencyPrev === null ? t('none') : h('a', { href: `${location.search}#/entry/${e.agencyPrev}` }, String(e.agencyPrev))],
      [t('f_key_hash'), short(toHex(e.keyHash))],
      [t('f_leaf'), short(toHex(leafHash(e.bytes)))],
    ]),
    s ? h('h2', {}, t('f_object')) : '',
    s ? h('pre', { class: 'json', 'data-testid': 'object' }, stringifyJson(s.object)) : '',
  );
}
