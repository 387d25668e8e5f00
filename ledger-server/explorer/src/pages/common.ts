/** Pieces several pages share: the verdict when the checkpoint did not verify. */
import { errorText, t } from '../i18n';
import { code, h, verdict } from '../ui';
import { current, trust, type SessionResult, type Verified } from '../session';

/** Renders the failure (loud for a key mismatch) and returns null, or returns the verified state. */
export async function requireVerified(main: HTMLElement): Promise<Verified | null> {
  const loading = h('p', { class: 'loading', role: 'status' }, t('loading'));
  main.append(loading);
  const r: SessionResult = await current();
  loading.remove();
  if (r.ok) return r.v;
  main.append(failure(r));
  return null;
}

export function failure(r: Extract<SessionResult, { ok: false }>): HTMLElement {
  if (r.keyMismatch)
    return verdict('fail', t('key_mismatch_title'), h('p', {}, t('key_mismatch_body', { pinned: r.keyMismatch.pinned, server: r.keyMismatch.server })), h('p', { 'data-testid': 'error' }, errorText(r.error)), h('p', {}, h('a', { href: `${location.search}#/trust` }, t('nav_trust'))));
  return verdict('fail', t('home_fail'), h('p', { 'data-testid': 'error' }, errorText(r.error)), h('p', {}, t('home_fail_body')));
}

export function unpinnedWarning(v: Verified, after: () => void): HTMLElement | null {
  if (v.pinned) return null;
  return verdict(
    'warn',
    t('home_warn_unpinned'),
    h('p', {}, t('home_warn_unpinned_body')),
    h('p', {}, code(v.logKey.text)),
    h('button', { type: 'button', onclick: () => (trust.set('vkey', v.logKey.text), after()) }, t('pin_this_key')),
  );
}
