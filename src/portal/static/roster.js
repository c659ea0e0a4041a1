/**
 * Who is in a call (use case 5 and group calls): you first, then each participant's name, state, mute state, a
 * ring while they speak, a raised hand; for organizers and presenters (capability `manageLobby`) the lobby panel: admit, reject,
 * admit all; and the meeting's dial-in details (TeamsMeetingAudioConferencing).
 */
import { actionButton, clear, h } from './dom.js';
import { PARTICIPANT_STATES, initialsOf } from './words.js';

const nameOf = (remote) => remote.displayName || remote.identifier?.phoneNumber || remote.identifier?.rawId || 'Someone';
/** Keeps `container` in step with `items`: one row (`{element}`) per item, made once by `make` and kept while the
 * item stays, so a button being clicked is never replaced under the pointer or the keyboard's focus. */
function keep(rows, container, items, make) {
  for (const [item, row] of rows) {
    if (!items.includes(item)) {
      row.element.remove();
      rows.delete(item);
    }
  }
  for (const item of items.filter((i) => !rows.has(i))) {
    rows.set(item, make(item));
    container.append(rows.get(item).element);
  }
}

const shownRole = (role) => (role && !['Unknown', 'Attendee'].includes(role) ? role : null);
const rawIdOf = (identifier) => identifier?.rawId ?? identifier?.communicationUserId ?? identifier?.microsoftTeamsUserId;

export class Roster {
  #call;
  #features;
  #report;
  #followed = new WeakSet();
  #myName;
  #myHand = false;
  #me;
  #rows = new Map();
  #waiting = new Map();

  constructor(call, Features, report, myName = 'You') {
    this.#call = call;
    this.#report = report;
    this.#myName = myName;
    this.#features = {
      capabilities: call.feature(Features.Capabilities),
      hands: call.feature(Features.RaiseHand),
      dialIn: call.feature(Features.TeamsMeetingAudioConferencing),
    };
    this.list = h('ul', { class: 'roster', 'aria-label': 'People in the call' });
    this.lobbyList = h('ul', { class: 'lobby-list', 'aria-label': 'Waiting in the lobby' });
    this.admitted = h('p', { class: 'admitted', role: 'status' });
    this.lobby = h('section', { class: 'lobby', hidden: true, 'aria-label': 'Lobby' },
      h('h3', { text: 'Waiting in the lobby' }), this.lobbyList,
      h('div', { class: 'actions' }, actionButton('Admit all', () => this.#admitAll(), (e) => report(e, 'Could not admit'),
        { class: 'admit-all' })), this.admitted);
    this.dialIn = h('section', { class: 'dial-in', hidden: true, 'aria-label': 'Dial-in details' });
    this.#me = this.#myRow();
    this.list.append(this.#me.element);
    this.nobody = h('p', { class: 'empty', text: 'Nobody else yet.' });
    this.element = h('div', { class: 'people' }, this.lobby, h('section', { class: 'in-call' },
      h('h3', { text: 'In the call' }), this.list, this.nobody), this.dialIn);
    const render = () => this.render();
    call.on('remoteParticipantsUpdated', ({ added }) => { added.forEach((p) => this.#follow(p)); render(); });
    call.on('stateChanged', render);
    call.on('isMutedChanged', render);
    call.on('roleChanged', render);
    call.lobby.on('lobbyParticipantsUpdated', render);
    this.#features.capabilities.on('capabilitiesChanged', render);
    this.#features.hands.on('raisedHandEvent', render);
    this.#features.hands.on('loweredHandEvent', render);
    call.remoteParticipants.forEach((p) => this.#follow(p));
    render();
  }

  get canManageLobby() { return Boolean(this.#features.capabilities.capabilities?.manageLobby?.isPresent); }

  /** Raised hands by raw id, for the roster's hand marks. */
  #raised() {
    return new Set(this.#features.hands.getRaisedHands().map((hand) => rawIdOf(hand.identifier)));
  }

  #follow(remote) {
    if (this.#followed.has(remote)) return;
    this.#followed.add(remote);
    ['stateChanged', 'isMutedChanged', 'isSpeakingChanged', 'displayNameChanged', 'roleChanged']
      .forEach((event) => remote.on(event, () => this.render()));
  }

  /** You, first in the roster: your role, your mute and your hand. */
  #myRow() {
    const element = h('li', { class: 'participant me' },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: initialsOf(this.#myName) }),
      h('span', { class: 'who', text: `${this.#myName} (you)` }));
    const marks = h('span', { class: 'marks' });
    element.append(marks);
    const update = () => {
      const call = this.#call;
      marks.textContent = [shownRole(call.role), call.isMuted ? 'muted' : null, this.#myHand ? 'hand raised' : null]
        .filter(Boolean).join(', ');
      Object.assign(element.dataset, { muted: String(call.isMuted), hand: String(this.#myHand) });
    };
    return { element, update };
  }

  /** One participant's row, updated in place; Mute and Remove for those whose capabilities allow them. */
  #row(remote) {
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' });
    const who = h('span', { class: 'who' });
    const marks = h('span', { class: 'marks' });
    const speaking = h('span', { class: 'visually-hidden', text: ' (speaking)' });
    const mute = actionButton('Mute', () => remote.mute(), (e) => this.#report(e, 'Could not mute'),
      { class: 'mute-other' });
    const remove = actionButton('Remove', () => this.#call.removeParticipant(remote),
      (e) => this.#report(e, 'Could not remove'), { class: 'remove-other' });
    const element = h('li', { class: 'participant' }, avatar, who, marks, speaking, mute, remove);
    const update = (hand, capabilities) => {
      const name = nameOf(remote);
      avatar.textContent = initialsOf(name);
      who.textContent = name;
      marks.textContent = [PARTICIPANT_STATES[remote.state] ?? remote.state, shownRole(remote.role),
        remote.isMuted ? 'muted' : null, hand ? 'hand raised' : null].filter(Boolean).join(', ');
      element.classList.toggle('speaking', Boolean(remote.isSpeaking));
      speaking.hidden = !remote.isSpeaking;
      Object.assign(element.dataset, { state: remote.state, muted: String(remote.isMuted), hand: String(hand) });
      mute.hidden = !capabilities.muteOthers?.isPresent || remote.isMuted;
      mute.setAttribute('aria-label', `Mute ${name}`);
      remove.hidden = !capabilities.removeParticipant?.isPresent;
      remove.setAttribute('aria-label', `Remove ${name}`);
    };
    return { element, update };
  }

  render() {
    const raised = this.#raised();
    const capabilities = this.#features.capabilities.capabilities ?? {};
    const present = this.#call.remoteParticipants.filter((p) => p.state !== 'InLobby' && p.state !== 'Disconnected');
    this.#me.update();
    keep(this.#rows, this.list, present, (remote) => this.#row(remote));
    present.forEach((remote) => this.#rows.get(remote).update(raised.has(rawIdOf(remote.identifier)), capabilities));
    this.nobody.hidden = present.length > 0;
    const waiting = this.#call.lobby.participants;
    this.lobby.hidden = !(this.canManageLobby && waiting.length);
    keep(this.#waiting, this.lobbyList, waiting, (remote) => ({ element: h('li', { class: 'waiting' },
      h('span', { class: 'who', text: nameOf(remote) }),
      actionButton('Admit', () => this.#call.lobby.admit(remote.identifier), (e) => this.#report(e, 'Could not admit'),
        { class: 'admit', 'aria-label': `Admit ${nameOf(remote)}` }),
      actionButton('Reject', () => this.#call.lobby.reject(remote.identifier), (e) => this.#report(e, 'Could not reject'),
        { class: 'reject', 'aria-label': `Reject ${nameOf(remote)}` })) }));
  }

  async #admitAll() {
    const { successCount, failureCount } = await this.#call.lobby.admitAll();
    this.admitted.textContent = failureCount ? `${successCount} admitted, ${failureCount} could not be admitted.`
      : `${successCount} admitted.`;
  }

  /** The dial-in numbers and conference id (fetched once the meeting is joined). */
  async showDialIn() {
    const details = await this.#features.dialIn.getTeamsMeetingAudioConferencingDetails();
    const numbers = details.phoneNumbers.flatMap((n) => [n.tollPhoneNumber?.phoneNumber, n.tollFreePhoneNumber?.phoneNumber])
      .filter(Boolean);
    clear(this.dialIn, h('h3', { text: 'Join by phone' }),
      h('p', {}, 'Call ', ...numbers.flatMap((n, i) => [i ? ' or ' : '', h('strong', { class: 'dial-in-number', text: n })]),
        numbers.length ? '' : 'the meeting\'s number', ' and enter the conference id ',
        h('strong', { class: 'conference-id', text: `${details.phoneConferenceId}#` }), '.'));
    this.dialIn.hidden = false;
  }

  async raiseHand(up) {
    await (up ? this.#features.hands.raiseHand() : this.#features.hands.lowerHand());
    this.#myHand = up;
    this.render();
  }
}
