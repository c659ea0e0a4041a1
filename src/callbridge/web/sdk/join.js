/**
 * The meeting join page (web/join.py renders it for a meeting's link): join as a guest with a name, or signed in
 * as an organisation user (the identity provider's authorize endpoint, a public client with PKCE), then the
 * browser SDK joins the meeting; the page shows the lobby's wait, who is in the meeting, mute, and leave.
 *
 * A guest's communication identity comes from `POST /meet/guest` (one per visit); a signed-in user's Teams access
 * token is exchanged by `POST /meet/token`. The link is kept in sessionStorage across the sign-in's redirect, with
 * the PKCE verifier and the state that the answer must carry back.
 */
import { AzureCommunicationTokenCredential, CallClient } from '/sdk/calling.js';

const $ = (id) => document.getElementById(id);
const root = $('join-page');
const STORED = 'callbridge.join';
const REDIRECT = `${location.origin}/meet/signed-in`;
const STATES = {
  None: 'Connecting…',
  Connecting: 'Connecting…',
  InLobby: 'Waiting in the lobby: someone in the meeting will let you in.',
  Connected: 'You are in the meeting.',
  Disconnecting: 'Leaving…',
};
const END_REASONS = {
  '0/0': 'You left the meeting.',
  '0/5854': 'You were not admitted to the meeting.',
  '0/5855': 'Nobody let you in.',
  '0/5300': 'You were removed from the meeting.',
  '0/4097': 'The meeting has ended.',
  '0/4521': 'The connection was lost.',
  '404/0': 'There is no such meeting.',
  '404/10122': 'The meeting id or passcode is wrong.',
  '403/5223': 'Your organisation cannot join this meeting.',
};
const page = { call: null };
window.callbridgeJoin = page; // for the page's tests: the call and its getStats()

function problem(text) {
  $('problem').textContent = text;
  $('problem').hidden = !text;
}

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error?.message ?? data.message ?? `The service refused (${response.status}).`);
  return data;
}

const nameOf = (remote) => remote.displayName ?? remote.identifier.rawId ?? remote.identifier.id;

function showRoster() {
  const present = page.call.remoteParticipants.filter((p) => p.state !== 'InLobby' && p.state !== 'Disconnected');
  $('roster').replaceChildren(...present.map((remote) => {
    const item = document.createElement('li');
    item.textContent = `${nameOf(remote)}${remote.isMuted ? ' (muted)' : ''}`;
    return item;
  }));
}

function showState() {
  const { call } = page;
  const state = $('state');
  state.dataset.state = call.state;
  if (call.state === 'Disconnected') {
    const { code, subCode, message } = call.callEndReason;
    state.textContent = `${END_REASONS[`${code}/${subCode}`] ?? message ?? 'The call ended.'} (${code}/${subCode})`;
    $('leave').hidden = true;
    $('mute').hidden = true;
  } else {
    state.textContent = STATES[call.state] ?? call.state;
  }
  showRoster();
}

function follow(call) {
  page.call = call;
  $('choose').hidden = true;
  $('in-call').hidden = false;
  call.on('stateChanged', showState);
  call.on('remoteParticipantsUpdated', ({ added }) => {
    added.forEach((remote) => ['stateChanged', 'displayNameChanged', 'isMutedChanged']
      .forEach((event) => remote.on(event, showRoster)));
    showRoster();
  });
  call.on('isMutedChanged', () => { $('mute').textContent = call.isMuted ? 'Unmute' : 'Mute'; });
  showState();
}

async function join(link, token, displayName) {
  const client = new CallClient();
  const credential = new AzureCommunicationTokenCredential(token);
  const agent = displayName ? await client.createCallAgent(credential, { displayName })
    : await client.createTeamsCallAgent(credential);
  follow(agent.join({ meetingLink: link }));
}

async function joinAsGuest(event) {
  event.preventDefault();
  problem('');
  const name = $('guest-name').value.trim();
  if (!name) return problem('Give the name the others will see.');
  $('join-as-guest').disabled = true;
  try {
    const { token } = await post('/meet/guest', { meetingLink: root.dataset.meetingLink });
    await join(root.dataset.meetingLink, token, name);
  } catch (error) {
    problem(`Could not join: ${error.message}`);
    $('join-as-guest').disabled = false;
  }
  return undefined;
}

/** To the identity provider's sign-in, with a PKCE challenge; it comes back to /meet/signed-in. */
async function signIn() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  sessionStorage.setItem(STORED, JSON.stringify({ link: root.dataset.meetingLink, verifier, state }));
  const authorize = new URL(`${root.dataset.authority}/oauth2/v2.0/authorize`);
  Object.entries({
    client_id: root.dataset.clientId, response_type: 'code', redirect_uri: REDIRECT, response_mode: 'query',
    scope: `openid profile ${root.dataset.scope}`, code_challenge: challenge, code_challenge_method: 'S256', state,
  }).forEach(([key, value]) => authorize.searchParams.set(key, value));
  location.assign(authorize.href);
}

/** Back from the sign-in: the code for tokens (PKCE), the Teams token for a communication token, then join. */
async function signedIn() {
  const answer = new URLSearchParams(location.search);
  const saved = JSON.parse(sessionStorage.getItem(STORED) ?? 'null');
  sessionStorage.removeItem(STORED);
  history.replaceState(null, '', location.pathname); // the code leaves the address bar and the history
  if (!saved || answer.get('state') !== saved.state) return problem('The sign-in did not come back as sent: open the meeting link again.');
  if (answer.get('error')) return problem(`The sign-in failed: ${answer.get('error_description') ?? answer.get('error')}`);
  root.dataset.meetingLink = saved.link;
  $('choose').hidden = true;
  try {
    const response = await fetch(`${root.dataset.authority}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code', client_id: root.dataset.clientId, code: answer.get('code') ?? '',
        redirect_uri: REDIRECT, code_verifier: saved.verifier, scope: `openid profile ${root.dataset.scope}`,
      }),
    });
    const tokens = await response.json();
    if (!response.ok) throw new Error(tokens.error_description ?? tokens.error ?? `HTTP ${response.status}`);
    const { token } = await post('/meet/token', { accessToken: tokens.access_token });
    await join(saved.link, token);
  } catch (error) {
    problem(`Could not join: ${error.message}`);
  }
  return undefined;
}

$('guest-form').addEventListener('submit', joinAsGuest);
$('sign-in').addEventListener('click', () => signIn().catch((error) => problem(error.message)));
$('leave').addEventListener('click', () => page.call?.hangUp().catch((error) => problem(error.message)));
$('mute').addEventListener('click', () => (page.call.isMuted ? page.call.unmute() : page.call.mute())
  .catch((error) => problem(error.message)));
if (root.dataset.problem) {
  problem(root.dataset.problem);
  $('choose').hidden = true;
} else if (location.pathname === '/meet/signed-in') {
  signedIn();
} else {
  $('sign-in-choice').hidden = !root.dataset.clientId;
}
