/** Home: the latest checkpoint, verified in the page, with a plain-language verdict. */
import { formatTime, t } from '../i18n';
import { keyIdHex, toBase64, toHex } from '../verify';
import { reset } from '../session';
import { checks, code, dl, h, verdict } from '../ui';
import { requireVerified, unpinnedWarning } from './common';

export async function homePage(main: HTMLElement): Promise<void> {
  const v = await requireVerified(main);
  if (!v) return;
  const cp = v.opened.checkpoint;
  const historyOk = v.history.kind === 'first' || v.history.kind === 'same' || v.history.kind === 'consistent';
  const link = h('a', { href: `${location.search}#/history` }, t('nav_history'));
  main.append(
    v.history.kind === 'fork' ? verdict('fail', t('history_fork'), h('p', {}, link)) : '',
    v.history.kind === 'older' ? verdict('warn', t('history_older'), h('p', {}, link)) : '',
    unpinnedWarning(v, () => (reset(), main.replaceChildren(), void homePage(main))) ?? '',
    verdict(
      v.policy && !v.policy.met ? 'warn' : 'ok',
      t(v.pinned ? 'home_ok' : 'home_ok_unpinned'),
      h('p', {}, t('home_ok_body', { size: cp.size })),
      dl([
        [t('tree_size'), h('strong', { 'data-testid': 'tree-size' }, String(cp.size))],
        [t('origin'), code(cp.origin)],
        [t('log_key'), code(`${v.logKey.name}+${keyIdHex(v.logKey.keyId)}`)],
        [t('root_hash'), h('code', { title: toHex(cp.root) }, toBase64(cp.root))],
        [t('verified_at'), h('span', { 'data-testid': 'verified-at' }, formatTime(v.verifiedAt))],
        [t('verified_in'), `${v.tookMs.toFixed(0)} ms`],
      ]),
    ),
    h('h2', {}, t('what_checked')),
    checks([
      [true, t(v.pinned ? 'chk_signature' : 'chk_signature_unpinned', { key: `${v.logKey.name}+${keyIdHex(v.logKey.keyId)}` })],
      [true, t('chk_origin', { origin: cp.origin })],
      [true, t('chk_tiles', { tiles: v.rootTiles.join(', ') || '—' })],
      v.history.kind === 'first' ? [null, t('history_first')] : [historyOk, t('chk_history')],
    ]),
    cosignatureSection(v),
    h('h2', {}, t('what_it_means')),
    h('p', {}, t('meaning', { size: cp.size })),
  );
  performance.mark('explorer:home-rendered');
}

function cosignatureSection(v: Awaited<ReturnType<typeof requireVerified>> & object): HTMLElement {
  const lines = v.opened.unknown;
  if (!v.policy)
    return h('section', {}, h('h2', {}, t('cosignatures')), h('p', {}, t('no_policy')), h('ul', {}, lines.map((l) => h('li', {}, t('unchecked_line', { name: l.name })))));
  const p = v.policy;
  const status = p.quorumNone ? t('policy_none') : p.met ? t('policy_met', { time: formatTime(p.freshness! * 1000n) }) : t('policy_not_met');
  return h(
    'section',
    {},
    h('h2', {}, t('cosignatures')),
    h('p', { 'data-testid': 'policy-status', class: p.met ? 'pass' : 'miss' }, status),
    checks(p.witnesses.map((w) => [w.time !== null, `${w.name}: ${w.time !== null ? t('cosigned_at', { time: formatTime(w.time * 1000n) }) : t('not_cosigned')}`])),
  );
}
