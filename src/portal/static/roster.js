/**
 * Who is in a call (use case 5 and group calls): you first, then each participant's name, state, mute state, a
 * ring while they speak, a raised hand; for organizers and presenters (capability `manageLobby`) the lobby panel: admit, reject,
 * admit all; and the meeting's dial-in details (TeamsMeetingAudioConferencing).
 */
import { actionButton, clear, h } from './dom.js';
import { PARTICIPANT_STATES, initialsOf } from './words.js';

const nameOf = (remote) => remote.displayName || remote.identifier?.phoneNumber || remote.identifier?.rawId || 'Someone';
const rawIdOf = (identifier) => identifier?.rawId ?? identifier?.communicationUserId ?? identifier?.microsoftTeamsUserId;

export class Roster {
  #call;
  #features;
  #report;
  #followed = new WeakSet();
  #myName;
  #myHand = false;

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
    this.element = h('div', { class: 'people' }, this.lobby, h('section', { class: 'in-call' },
      h('h3', { text: 'In the call' }), this.list), this.dialIn);
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

  #me() {
    const call = this.#call;
    const marks = [call.role && !['Unknown', 'Attendee'].includes(call.role) ? call.role : null,
      call.isMuted ? 'muted' : null, this.#myHand ? 'hand raised' : null].filter(Boolean);
    return h('li', { class: 'participant me', dataset: { muted: String(call.isMuted), hand: String(this.#myHand) } },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: initialsOf(this.#myName) }),
      h('span', { class: 'who', text: `${this.#myName} (you)` }),
      h('span', { class: 'marks', text: marks.join(', ') }));
  }

  render() {
    const raised = this.#raised();
    const present = this.#call.remoteParticipants.filter((p) => p.state !== 'InLobby' && p.state !== 'Disconnected');
    clear(this.list, this.#me(), present.map((remote) => {
      const hand = raised.has(rawIdOf(remote.identifier));
      const marks = [PARTICIPANT_STATES[remote.state] ?? remote.state,
        remote.role && !['Unknown', 'Attendee'].includes(remote.role) ? remote.role : null,
        remote.isMuted ? 'muted' : null, hand ? 'hand raised' : null].filter(Boolean);
      return h('li', { class: `participant${remote.isSpeaking ? ' speaking' : ''}`,
        dataset: { state: remote.state, muted: String(remote.isMuted), hand: String(hand) } },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: initialsOf(nameOf(remote)) }),
      h('span', { class: 'who', text: nameOf(remote) }),
      h('span', { class: 'marks', text: marks.join(', ') }),
      remote.isSpeaking ? h('span', { class: 'visually-hidden', text: ' (speaking)' }) : null);
    }));
    if (!present.length) this.list.append(h('li', { class: 'empty', text: 'Nobody else yet.' }));
    const waiting = this.#call.lobby.participants;
    this.lobby.hidden = !(this.canManageLobby && waiting.length);
    clear(this.lobbyList, waiting.map((remote) => h('li', { class: 'waiting' },
      h('span', { class: 'who', text: nameOf(remote) }),
      actionButton('Admit', () => this.#call.lobby.admit(remote.identifier), (e) => this.#report(e, 'Could not admit'),
        { class: 'admit', 'aria-label': `Admit ${nameOf(remote)}` }),
      actionButton('Reject', () => this.#call.lobby.reject(remote.identifier), (e) => this.#report(e, 'Could not reject'),
        { class: 'reject', 'aria-label': `Reject ${nameOf(remote)}` }))));
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
