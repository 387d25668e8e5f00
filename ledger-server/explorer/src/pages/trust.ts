/** Trust: the pinned log key, authority key and witness policy, and the genesis check. */
import { errorText, t } from '../i18n';
import { fromBase64, parsePolicy, parseStatement, parseVerifierKey, decodeEnvelope } from '../verify';
import { current, fetchJson, reset, trust, type LogInfo } from '../session';
import { code, dl, h, verdict } from '../ui';
import { failure } from './common';

export async function trustPage(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('trust_title')), h('p', {}, t('trust_help')));
  const info = await fetchJson<LogInfo>('v1/log');
  const s = await current();
  if (!s.ok && s.keyMismatch) main.append(failure(s));
  main.append(dl([
    [t('pinned_key'), h('code', { 'data-testid': 'pinned-key' }, trust.vkey() ?? t('pinned_none'))],
    [t('server_key'), code(info?.vkey ?? '—')],
    [t('authority_key'), code(trust.authority() ?? info?.authority_key ?? '—')],
  ]));
  const field = (label: string, name: 'vkey' | 'authority' | 'policy', rows: string, validate: (x: string) => void) => {
    const area = h('textarea', { rows, spellcheck: 'false', 'data-testid': `trust-${name}` }, trust[name]() ?? '');
    const msg = h('p', { 'aria-live': 'polite' });
    return h('section', {}, h('label', { class: 'block' }, h('span', {}, label), area),
      h('button', { type: 'button', 'data-testid': `save-${name}`, onclick: () => {
        try {
          if (area.value.trim()) validate(area.value);
          trust.set(name, area.value);
          reset();
          msg.className = 'pass';
          msg.textContent = t('saved');
        } catch (e) {
          msg.className = 'miss';
          msg.textContent = errorText(e);
        }
      } }, t('save')), msg);
  };
  main.append(
    field(t('pinned_key'), 'vkey', '2', (x) => parseVerifierKey(x.trim())),
    field(t('authority_key'), 'authority', '2', (x) => { const k = fromBase64(x.trim()); if (!k || k.length !== 32) throw new Error('32-byte base64'); }),
    field(t('witness_policy'), 'policy', '8', (x) => parsePolicy(x)),
    genesisCheck(),
  );
}

function genesisCheck(): HTMLElement {
  const out = h('div', { 'aria-live': 'polite' });
  return h('section', {}, h('button', { type: 'button', onclick: async () => {
    const s = await current();
    if (!s.ok) return void out.replaceChildren(failure(s));
    try {
      const [bytes] = await s.v.tree.bundle(0);
      const st = parseStatement(decodeEnvelope(bytes).statementBytes);
      const o = st.objectPlain as { log_vkey?: string; authority_key?: string };
      const auth = trust.authority();
      const problems = [
        o.log_vkey !== s.v.logKey.text && `log_vkey ${o.log_vkey}`,
        auth && o.authority_key !== auth.trim() && `authority_key ${o.authority_key}`,
        st.type !== 'registry.genesis' && st.type,
      ].filter(Boolean);
      out.replaceChildren(
        problems.length ? verdict('fail', t('genesis_fail', { detail: problems.join(', ') }))
        : auth ? verdict('ok', t('genesis_ok'))
        : verdict('ok', t('genesis_ok_log', { key: o.authority_key ?? '?' })),
      );
    } catch (e) {
      out.replaceChildren(verdict('fail', t('genesis_fail', { detail: errorText(e) })));
    }
  } }, t('genesis_check')), out);
}
