/** Has the history changed? The browser monitor's verdict for this visit. */
import { errorText, t } from '../i18n';
import { openCheckpoint, toBase64 } from '../verify';
import { forgetRemembered, reset } from '../session';
import { download, dl, h, verdict } from '../ui';
import { requireVerified } from './common';

export async function historyPage(main: HTMLElement): Promise<void> {
  main.append(h('h1', {}, t('history_title')), h('p', {}, t('history_help')));
  const v = await requireVerified(main);
  if (!v) return;
  const now = v.opened.checkpoint;
  const old = v.remembered ? openCheckpoint(v.remembered, v.logKey).checkpoint : null;
  const sizes = { old: old?.size ?? 0n, new: now.size, size: now.size };
  const hv = v.history;
  const box =
    hv.kind === 'first' ? verdict('info', t('history_first'), h('p', {}, t('history_first_body', sizes)))
    : hv.kind === 'same' ? verdict('ok', t('history_same'), h('p', {}, t('history_same_body', sizes)))
    : hv.kind === 'consistent' ? verdict('ok', t('history_consistent'), h('p', {}, t('history_consistent_body', { ...sizes, hashes: hv.proofHashes })))
    : hv.kind === 'older' ? verdict('warn', t('history_older'), h('p', {}, t('history_older_body', sizes)))
    : hv.kind === 'fork' ? verdict('fail', t('history_fork'), h('p', {}, t('history_fork_body', sizes)), download('evidence.json', hv.evidence, t('download_evidence')))
    : verdict('warn', t('history_error'), h('p', { 'data-testid': 'error' }, errorText(hv.error)));
  box.setAttribute('data-history', hv.kind);
  main.append(
    box,
    dl([
      [t('remembered'), old ? `${old.size} · ${toBase64(old.root)}` : t('none')],
      [t('current'), `${now.size} · ${toBase64(now.root)}`],
    ]),
    h('button', { type: 'button', onclick: () => (forgetRemembered(v.logKey.text), reset(), main.replaceChildren(), void historyPage(main)) }, t('forget')),
  );
}
