/** Agencies: the list, and one agency's history through agency_prev with its key history. */
import { formatTime, t } from '../i18n';
import { fromBase64 } from '../verify';
import { fetchJson } from '../session';
import { code, h, short, verdict } from '../ui';
import { requireVerified } from './common';
import type { Verified } from '../session';
import { checkEntry, type AgencyJson } from './entrycheck';

export async function agenciesPage(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('agencies_title')));
  const r = await fetchJson<{ agencies: AgencyJson[] }>('v1/agencies');
  if (!r) return void main.append(h('p', {}, t('no_api')));
  main.append(h('ul', { class: 'agencies' }, r.agencies.map((a) => h('li', {}, h('a', { href: `${location.search}#/agency/${a.id}` }, a.name), ' ', code(a.id), ` · ${t('entries_count')}: ${a.entries}`))));
}

export async function agencyPage(main: HTMLElement, id: string): Promise<void> {
  main.append(h('h1', {}, t('agency_title', { id })));
  const v = await requireVerified(main);
  if (!v) return;
  const a = await fetchJson<AgencyJson>(`v1/agencies/${id}`);
  if (!a) return void main.append(h('p', {}, t('agency_unknown')));
  main.append(
    h('p', {}, h('strong', {}, a.name), ` · ${t('registered_at')} `, h('a', { href: `${location.search}#/entry/${a.registered_at}` }, String(a.registered_at))),
    h('h2', {}, t('key_history')),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, [t('key'), t('added_at'), t('revoked_at'), t('active')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, a.keys.map((k) => h('tr', {}, h('td', {}, short(k.key_hash)), h('td', {}, h('a', { href: `${location.search}#/entry/${k.added_at}` }, String(k.added_at))), h('td', {}, k.revoked_at === null ? '—' : h('a', { href: `${location.search}#/entry/${k.revoked_at}` }, String(k.revoked_at))), h('td', {}, k.active ? t('yes') : t('no'))))),
      ),
    ),
    await keyHistoryCheck(v, a),
    h('h2', {}, t('agency_chain')),
  );
  const list = await fetchJson<{ entries: { index: number; entry_b64: string }[] }>(`v1/entries?agency=${encodeURIComponent(id)}&limit=1000`);
  const rows = h('ol', { class: 'chain' });
  let prev: bigint | null = null;
  let broken: number | null = null;
  for (const e of list?.entries ?? []) {
    const c = await checkEntry(v, e.index, fromBase64(e.entry_b64) ?? new Uint8Array());
    if (broken === null && c.envelope && c.envelope.agencyPrev !== prev) broken = e.index;
    if (!c.verified && broken === null) broken = e.index;
    prev = BigInt(e.index);
    rows.append(
      h('li', { class: c.verified ? 'pass' : 'miss' },
        h('a', { href: `${location.search}#/entry/${e.index}` }, `#${e.index}`), ' ',
        c.statement ? [c.statement.type, c.statement.subject].filter(Boolean).join(' · ') : '', ' · ',
        c.envelope ? formatTime(c.envelope.sequencedAtMs) : '', ' · ',
        c.envelope?.agencyPrev === null || !c.envelope ? '⟵ —' : `⟵ #${c.envelope.agencyPrev}`, ' ',
        h('span', {}, c.verified ? `✔ ${t('verified')}` : `✘ ${t('not_verified')}`)),
    );
  }
  const n = list?.entries.length ?? 0;
  main.append(broken === null ? verdict('ok', t('chain_ok', { n })) : verdict('fail', t('chain_broken', { index: broken })), rows);
}

interface DerivedKey {
  key: string;
  added: number;
  removed: number | null;
}

/**
 * Derives the agency's key history from the registry entries (registry.md §3.2–3.5),
 * each verified through the tiles, and compares it with the server's view.
 */
async function keyHistoryCheck(v: Verified, a: AgencyJson): Promise<HTMLElement> {
  const list = await fetchJson<{ entries: { index: number; entry_b64: string }[] }>('v1/entries?agency=registry&limit=1000');
  const derived: DerivedKey[] = [];
  const problems: string[] = [];
  let prev: bigint | null = null;
  for (const e of list?.entries ?? []) {
    const c = await checkEntry(v, e.index, fromBase64(e.entry_b64) ?? new Uint8Array());
    if (!c.verified || !c.envelope || !c.statement) {
      problems.push(`#${e.index} not verified`);
      continue;
    }
    if (c.envelope.agencyPrev !== prev) problems.push(`#${e.index}: agency_prev ${c.envelope.agencyPrev}, expected ${prev}`);
    prev = BigInt(e.index);
    const o = c.statement.objectPlain as Record<string, string>;
    if (o.agency !== a.id) continue;
    const remove = (key: string) => derived.filter((d) => d.key === key && d.removed === null).forEach((d) => (d.removed = e.index));
    const type = c.statement.type;
    if (type === 'registry.agency.register' || type === 'registry.key.add') derived.push({ key: o.key, added: e.index, removed: null });
    else if (type === 'registry.key.rotate') (remove(o.old_key), derived.push({ key: o.new_key, added: e.index, removed: null }));
    else if (type === 'registry.key.revoke') remove(o.key);
  }
  const claimed = a.keys.map((k) => `${k.key}@${k.added_at}-${k.revoked_at ?? ''}`).join(' ');
  const mine = derived.map((d) => `${d.key}@${d.added}-${d.removed ?? ''}`).join(' ');
  if (claimed !== mine) problems.push(`server: ${claimed || 'none'}; registry entries: ${mine || 'none'}`);
  const box = problems.length
    ? verdict('fail', t('keys_differ_title'), h('p', {}, t('keys_differ', { detail: problems.join('; ') })))
    : verdict('ok', t('keys_match_title'), h('p', {}, t('keys_match', { n: list?.entries.length ?? 0 })));
  box.setAttribute('data-testid', 'key-history');
  return box;
}
