/**
 * Check my receipt: verified in the page, offline, with the trusted log key.
 * When the log's current tree was verified too, the page also checks that the
 * log still holds the entry. A payload and salt are checked locally.
 */
import { errorText, t } from '../i18n';
import { checkPayload, equal, parseVerifierKey, utf8, verifyReceipt, warmUp, type ReceiptVerdict, type VerifierKey } from '../verify';
import { current, trust } from '../session';
import { checks, code, dl, h, verdict } from '../ui';

async function trustedKey(): Promise<VerifierKey | null> {
  const pinned = trust.vkey();
  if (pinned) return parseVerifierKey(pinned);
  const s = await current();
  return s.ok ? s.v.logKey : null;
}

export function receiptPage(main: HTMLElement): void {
  setTimeout(warmUp, 0);
  const out = h('div', { 'aria-live': 'polite', id: 'receipt-result' });
  const text = h('textarea', { rows: '8', 'aria-label': t('receipt_paste'), spellcheck: 'false', 'data-testid': 'receipt-text' });
  const file = h('input', { type: 'file', accept: '.tlog-proof,text/plain', 'data-testid': 'receipt-file' });
  const run = async (bytes: Uint8Array) => {
    out.replaceChildren(h('p', { role: 'status' }, t('loading')));
    out.replaceChildren(await check(bytes));
  };
  file.addEventListener('change', async () => {
    const f = file.files?.[0];
    if (f) await run(new Uint8Array(await f.arrayBuffer()));
  });
  const drop = h('div', { class: 'drop', 'data-testid': 'drop', tabindex: '0', role: 'button', 'aria-label': t('receipt_drop'),
    onkeydown: (e: Event) => { if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') { e.preventDefault(); file.click(); } } },
    h('p', {}, t('receipt_drop')), h('label', {}, h('span', {}, t('receipt_choose')), ' ', file));
  drop.addEventListener('dragover', (e) => (e.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files?.[0];
    if (f) await run(new Uint8Array(await f.arrayBuffer()));
  });
  main.append(
    h('h1', {}, t('receipt_title')),
    h('p', {}, t('receipt_help')),
    drop,
    h('label', { class: 'block' }, h('span', {}, t('receipt_paste')), text),
    h('button', { type: 'button', onclick: () => void run(utf8(text.value.replace(/\r\n/g, '\n'))) }, t('receipt_check')),
    out,
  );
}

async function check(bytes: Uint8Array): Promise<HTMLElement> {
  const key = await trustedKey();
  if (!key) return verdict('fail', t('receipt_fail'), h('p', { 'data-testid': 'error' }, t('err.no_key')));
  let r: ReceiptVerdict;
  const started = performance.now();
  try {
    r = verifyReceipt(bytes, key);
  } catch (e) {
    return verdict('fail', t('receipt_fail'), h('p', { 'data-testid': 'error' }, errorText(e)));
  }
  const ms = performance.now() - started;
  (window as unknown as { __explorer: Record<string, number> }).__explorer ??= {};
  (window as unknown as { __explorer: Record<string, number> }).__explorer.receiptMs = ms;
  const index = r.envelope.index;
  const items: [boolean | null, string][] = [
    [true, t('chk_r_parse', { form: r.receipt.form })],
    [true, t('chk_envelope', { index })],
    [true, t('chk_statement')],
    [true, t('chk_r_checkpoint')],
    [true, t('chk_r_inclusion')],
    r.signatureByKey ? [true, t('chk_r_signature')] : [null, t('chk_r_signature_none')],
  ];
  const s = await current();
  if (s.ok && s.v.logKey.text === key.text && index < s.v.opened.checkpoint.size) {
    const leaf = await s.v.tree.leafHashAt(Number(index)).catch(() => null);
    const still = leaf !== null && equal(leaf, r.leafHash);
    items.push([still, t(still ? 'chk_r_current' : 'chk_r_current_fail', { index })]);
  }
  const st = r.statement;
  return h(
    'div',
    {},
    verdict(items.some(([ok]) => ok === false) ? 'fail' : 'ok', t('receipt_ok'), h('p', {}, t('receipt_ok_body', { size: r.checkpoint.checkpoint.size, index }))),
    checks(items),
    dl([
      [t('f_agency'), code(st.agency)], [t('f_type'), code(st.type)], [t('f_channel'), st.channel], [t('f_subject'), st.subject ?? t('none')],
      [t('f_occurred'), st.occurredAt], [t('tree_size'), String(r.checkpoint.checkpoint.size)], [t('verified_in'), `${ms.toFixed(1)} ms`],
    ]),
    payloadForm(st.payloadCommitment),
  );
}

function payloadForm(commitment: string | null): HTMLElement {
  if (!commitment) return h('p', {}, t('payload_none'));
  const file = h('input', { type: 'file', 'data-testid': 'payload-file' });
  const salt = h('input', { type: 'text', size: '66', spellcheck: 'false', autocomplete: 'off', 'data-testid': 'payload-salt' });
  const out = h('p', { 'aria-live': 'polite', 'data-testid': 'payload-result' });
  return h(
    'section',
    { class: 'payload' },
    h('h2', {}, t('payload_title')),
    h('p', {}, t('payload_help')),
    h('label', { class: 'block' }, h('span', {}, t('payload_file')), file),
    h('label', { class: 'block' }, h('span', {}, t('payload_salt')), salt),
    h('button', { type: 'button', onclick: async () => {
      const f = file.files?.[0];
      const payload = f ? new Uint8Array(await f.arrayBuffer()) : new Uint8Array();
      const r = checkPayload(commitment, salt.value, payload);
      out.className = r === 'ok' ? 'pass' : 'miss';
      out.textContent = r === 'ok' ? `✔ ${t('payload_ok')}` : r === 'bad_salt' ? t('payload_bad_salt') : `✘ ${t('payload_mismatch')}`;
    } }, t('payload_check')),
    out,
  );
}
