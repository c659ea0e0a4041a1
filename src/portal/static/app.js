/**
 * The portal's page: the signed-in header (name, organisation, sign out), Home and History, the call on screen,
 * and incoming calls ringing in every tab. The server serves `/` as a shell (shell.html: the SDK's address in a
 * meta, this module, app.css) and the JSON API of docs/portal.md; calling goes through calling.js only.
 *
 * Calling is loaded apart from the rest: when callbridge cannot be reached, the directory, customers, meetings and
 * history still show, and the reason calling is unavailable is said in words.
 */
import * as api from './api.js';
import { CallView } from './callview.js';
import { h, statusLine } from './dom.js';
import { HistoryPage } from './history.js';
import { Home } from './home.js';
import { IncomingCalls } from './incoming.js';
import { Phone, inboundAudio } from './phone.js';
import { PreJoin } from './prejoin.js';
import { Ringer } from './ringer.js';

/** The page's root: the shell's `#portal`, or one put in place of the server's `#app` (its sign-in link, noscript). */
function rootElement() {
  const existing = document.getElementById('portal');
  if (existing) return existing;
  const made = h('div', { id: 'portal' });
  const placeholder = document.getElementById('app');
  if (placeholder) placeholder.replaceWith(made);
  else document.body.append(made);
  return made;
}

/**
 * The calling SDK's import and the communication token start at once, beside `/api/me`, rather than after it:
 * with it they are the home page's longest waits (bench/portal.py). Not on a page the server rendered signed out (its `#portal-config` says so),
 * which has no use for callbridge.
 */
function signedOutShell() {
  try {
    return JSON.parse(document.getElementById('portal-config')?.textContent ?? '{}').signedIn === false;
  } catch {
    return false;
  }
}
const signedOutAtStart = signedOutShell();
const callingLoaded = signedOutAtStart ? null : import('./calling.js');
const tokenLoaded = signedOutAtStart ? null : api.communicationToken();
// their failures are reported where calling starts, not as unhandled rejections
callingLoaded?.catch(() => {});
tokenLoaded?.catch(() => {});

const root = rootElement();
const portal = { phone: null, ringer: new Ringer(), incoming: null, view: 'home' };
window.portal = portal; // for the browser tests and a person's console: the phone, the ringer, the call's audio
portal.inboundAudio = () => inboundAudio(portal.phone?.session?.call);

function signedOut(problem) {
  root.replaceChildren(h('main', { class: 'signed-out' },
    h('h1', { text: 'Contoso Calling' }),
    h('p', { text: 'Call your customers and colleagues, and join your meetings, from this page.' }),
    h('a', { class: 'button primary sign-in', href: '/signin', text: 'Sign in with your organisation account' }),
    problem ? h('p', { class: 'problem', role: 'alert', text: problem }) : null));
}

function header(me) {
  const signOut = h('form', { method: 'post', action: '/signout', class: 'sign-out' },
    h('button', { type: 'submit', text: 'Sign out' }));
  const notify = h('button', { type: 'button', class: 'enable-notifications', text: 'Notify me of calls',
    hidden: typeof Notification === 'undefined' || Notification.permission !== 'default',
    onclick: async () => { await Notification.requestPermission(); notify.hidden = Notification.permission !== 'default'; } });
  portal.connection = h('span', { class: 'connection', role: 'status', text: 'Connecting to calling…' });
  return h('header', { class: 'top' },
    h('a', { class: 'brand', href: '#/', text: 'Contoso Calling' }),
    h('nav', { 'aria-label': 'Pages' }, h('a', { href: '#/', class: 'nav-home', text: 'Home' }),
      h('a', { href: '#/history', class: 'nav-history', text: 'History' })),
    h('div', { class: 'me' },
      h('span', { class: 'me-name', text: me.displayName }),
      // the organisation's name when the server knows it, else her sign-in's domain: never a bare tenant GUID
      h('span', { class: 'me-tenant', text: me.tenantName ?? me.upn?.split('@')[1] ?? '' }),
      me.phoneNumber ? h('span', { class: 'me-number', text: me.phoneNumber }) : null,
      portal.connection, notify, signOut));
}

function show(view) {
  portal.view = view;
  for (const [name, element] of Object.entries(portal.views)) element.hidden = name !== view;
  document.querySelectorAll('nav a').forEach((a) => a.toggleAttribute('aria-current', a.hash === `#/${view === 'home' ? '' : view}`));
}

function route() {
  if (portal.view === 'call' && portal.phone?.busy) return; // a live call stays on screen
  if (location.hash === '#/history') {
    show('history');
    portal.history.load();
  } else {
    show('home');
  }
}

function needPhone() {
  if (!portal.phone) throw new Error(portal.callingProblem ?? 'Calling is still starting: try again in a moment.');
  if (portal.phone.busy) throw new Error('You are in a call already: hang up first.');
  return portal.phone;
}

const actions = {
  callNumber: async (number, customer) => {
    const phone = needPhone();
    // a number typed on the dial pad that belongs to a customer is shown with the customer's name
    const known = customer ?? await api.lookupCustomer(number).catch(() => null);
    return phone.callNumber(number, known);
  },
  callColleague: async (person) => needPhone().callColleague(person),
  prepareJoin: (locator, subject) => {
    const phone = needPhone();
    const preJoin = new PreJoin(phone.devices, subject, {
      onJoin: ({ muted }) => phone.join(locator, subject, { muted }),
      onCancel: () => route(),
    });
    portal.views.call.replaceChildren(preJoin.element);
    show('call');
    preJoin.open();
  },
};

function showSession(session) {
  const view = new CallView(session, { sdk: portal.phone.sdk, deviceManager: portal.phone.devices, me: portal.me,
    onClose: () => { window.history.replaceState(null, '', '#/'); route(); } }); // "Back to home", wherever it began
  portal.views.call.replaceChildren(view.element);
  show('call');
  view.controls.querySelector('button')?.focus();
}

async function startCalling() {
  try {
    const sdk = await (callingLoaded ?? import('./calling.js'));
    portal.phone = await Phone.connect(sdk, tokenLoaded);
  } catch (error) {
    portal.callingProblem = `Calling is unavailable: ${error.message}`;
    portal.connection.textContent = 'Calling unavailable';
    portal.problem.textContent = portal.callingProblem;
    return;
  }
  portal.connection.textContent = 'Ready for calls';
  portal.connection.dataset.state = 'Connected';
  portal.phone.addEventListener('connection', ({ detail }) => {
    portal.connection.dataset.state = detail.state;
    portal.connection.textContent = detail.state === 'Connected' ? 'Ready for calls'
      : `Calling disconnected${detail.reason === 'invalidToken' ? ': sign in again' : ': reconnecting…'}`;
  });
  portal.phone.addEventListener('session', ({ detail }) => showSession(detail));
  portal.incoming = new IncomingCalls(portal.phone, portal.ringer, portal.toasts, (error, what) => {
    portal.problem.textContent = `${what}: ${error.message}`;
  });
}

async function main() {
  let me;
  try {
    me = await api.me();
  } catch (error) {
    signedOut(error.message);
    return;
  }
  if (!me) {
    signedOut();
    return;
  }
  const unlock = () => portal.ringer.unlock();
  document.addEventListener('pointerdown', unlock, { once: true });
  document.addEventListener('keydown', unlock, { once: true });
  portal.me = me;
  portal.problem = statusLine('problem global', 'alert');
  portal.toasts = h('div', { class: 'toasts', 'aria-label': 'Incoming calls' });
  portal.home = new Home(actions);
  portal.history = new HistoryPage(actions, portal.home.customerForm);
  portal.views = { home: portal.home.element, history: portal.history.element,
    call: h('div', { class: 'call-area' }) };
  root.replaceChildren(header(me), portal.problem,
    h('main', { id: 'main' }, portal.views.home, portal.views.history, portal.views.call), portal.toasts,
    portal.home.customerForm.element);
  window.addEventListener('hashchange', route);
  route();
  portal.home.load();
  await startCalling();
  root.dataset.ready = 'true';
}

main();
