/** The explorer's shell: header, navigation, language switch and hash routes. */
import './style.css';
import { getLang, setLang, t, type Key } from './i18n';
import { h } from './ui';
import { logUrl } from './session';
import { homePage } from './pages/home';
import { entriesPage, entryPage } from './pages/entries';
import { agenciesPage, agencyPage } from './pages/agency';
import { receiptPage } from './pages/receipt';
import { historyPage } from './pages/history';
import { trustPage } from './pages/trust';

type Page = (main: HTMLElement, arg: string) => Promise<void> | void;
const routes: [RegExp, Page, Key][] = [
  [/^\/?$/, homePage, 'nav_home'],
  [/^\/entries$/, entriesPage, 'nav_entries'],
  [/^\/entry\/(\d+)$/, entryPage, 'nav_entries'],
  [/^\/agencies$/, agenciesPage, 'nav_agencies'],
  [/^\/agency\/([a-z0-9.-]+)$/, agencyPage, 'nav_agencies'],
  [/^\/receipt$/, receiptPage, 'nav_receipt'],
  [/^\/history$/, historyPage, 'nav_history'],
  [/^\/trust$/, trustPage, 'nav_trust'],
];
const nav: [string, Key][] = [
  ['#/', 'nav_home'], ['#/entries', 'nav_entries'], ['#/agencies', 'nav_agencies'],
  ['#/receipt', 'nav_receipt'], ['#/history', 'nav_history'], ['#/trust', 'nav_trust'],
];

/** Keeps ?log= on internal links. */
export function link(hash: string): string {
  return `${location.search}${hash}`;
}

async function render(): Promise<void> {
  const path = location.hash.replace(/^#/, '').split('?')[0];
  const route = routes.find(([re]) => re.test(path)) ?? routes[0];
  const arg = route[0].exec(path)?.[1] ?? '';
  document.documentElement.lang = getLang();
  const main = h('main', { id: 'main', tabindex: '-1' });
  const app = document.getElementById('app')!;
  app.replaceChildren(
    h('a', { class: 'skiplink', href: '#main', onclick: (e: Event) => (e.preventDefault(), main.focus()) }, t('skip')),
    h(
      'header',
      {},
      h('div', { class: 'brand' }, h('strong', {}, t('title')), h('small', {}, t('tagline'))),
      h(
        'button',
        { class: 'lang', type: 'button', 'aria-label': `${t('lang_label')}: ${t('lang_switch')}`, 'data-testid': 'lang', onclick: () => (setLang(getLang() === 'id' ? 'en' : 'id'), void render()) },
        t('lang_switch'),
      ),
      h('nav', { 'aria-label': t('menu') }, h('ul', {}, nav.map(([href, key]) => h('li', {}, h('a', { href: link(href), 'aria-current': route[2] === key ? 'page' : undefined }, t(key)))))),
    ),
    main,
    h('footer', {}, h('span', {}, `${t('log_url')}: `), h('code', { 'data-testid': 'log-url' }, logUrl()), h('p', {}, t('log_url_help'))),
  );
  document.title = `${t(route[2])} · ${t('title')}`;
  await route[1](main, arg);
}

window.addEventListener('hashchange', () => void render());
void render();
