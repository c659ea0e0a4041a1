/**
 * One call on screen: who, the state in words (ringing, early media, connected, on hold, waiting in the lobby),
 * a timer from the answer; mute, hold and resume, a DTMF keypad, adding a colleague or a number, hang up, end for
 * everyone where the capability allows it; the audio devices with an input level meter; in meetings and group
 * calls the roster (roster.js); and once it ends, a page saying how in words (refused, removed, ended by the
 * organizer, declined, busy...).
 */
import * as api from './api.js';
import { DevicePanel, LevelMeter } from './devices.js';
import { actionButton, clear, h, statusLine } from './dom.js';
import { Roster } from './roster.js';
import {
  CALL_STATES, aboutPeer, dtmfTone, duration, endReasonInWords, initialsOf, isMeetingEnd, toE164,
} from './words.js';

const KEYS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'];
const LIVE = ['Connected', 'LocalHold', 'RemoteHold'];

export class CallView {
  #session;
  #sdk;
  #timer = 0;
  #roster = null;
  #devices;
  #level;
  #listening = false;
  #me;
  #onClose;

  constructor(session, { sdk, deviceManager, me, onClose }) {
    this.#session = session;
    this.#sdk = sdk;
    this.#me = me;
    this.#onClose = onClose;
    const { call } = session;
    this.problem = statusLine('problem', 'alert');
    this.state = h('p', { class: 'call-state', role: 'status', 'aria-live': 'polite' });
    this.clock = h('time', { class: 'call-timer', 'aria-label': 'Call duration' });
    // the microphone's level stays in view through the call (the device panel's choice moves it)
    this.#level = new LevelMeter('Your microphone level');
    this.#devices = new DevicePanel(deviceManager, (error) => this.report(error, 'Audio devices'), this.#level);
    this.#devices.element.hidden = true;
    this.keypad = this.#keypad();
    this.adder = this.#adder();
    this.controls = this.#controls();
    this.ended = h('section', { class: 'ended', hidden: true, 'aria-live': 'assertive' });
    this.waiting = h('section', { class: 'waiting-room', hidden: true },
      h('h2', { text: 'Waiting in the lobby' }),
      h('p', { text: 'Someone in the meeting will let you in. You can keep this page open.' }),
      h('div', { class: 'spinner', 'aria-hidden': 'true' }));
    this.people = h('div', { class: 'people-slot' });
    this.element = h('section', { class: 'call', 'aria-label': 'Call', dataset: { kind: session.kind } },
      h('header', { class: 'call-head' },
        h('span', { class: 'avatar large', 'aria-hidden': 'true', text: initialsOf(session.peer.name) }),
        h('div', {}, h('h2', { class: 'peer', text: session.peer.name }),
          h('p', { class: 'peer-about', text: aboutPeer(session.peer) }), this.state),
        h('div', { class: 'call-side' }, this.clock, h('label', { class: 'my-level' }, 'You ', this.#level.element))),
      this.waiting, this.controls, this.keypad, this.adder, this.#devices.element, this.people, this.ended,
      this.problem);
    session.addEventListener('change', () => this.render());
    session.addEventListener('problem', (event) => this.report(event.detail, 'The call was not saved in your history'));
    call.on('isMutedChanged', () => this.render());
    if (session.isMeeting || call.remoteParticipants.length > 1) this.#showRoster();
    call.on('remoteParticipantsUpdated', () => { if (call.remoteParticipants.length > 1) this.#showRoster(); });
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.render();
  }

  report(error, what = 'Something went wrong') {
    const codes = error?.subCode !== undefined ? ` (code ${error.code}, subCode ${error.subCode})` : '';
    this.problem.textContent = `${what}: ${error?.message ?? error}${codes}`;
  }

  render() {
    const { call } = this.#session;
    const { state } = call;
    this.element.dataset.state = state;
    let words = CALL_STATES[state] ?? state;
    if (state === 'EarlyMedia') words = 'Ringing: you hear the phone network.';
    if (state === 'Connected' && this.#session.sawEarlyMedia && this.#session.kind === 'phone') words = 'Connected';
    this.state.textContent = words;
    this.waiting.hidden = state !== 'InLobby';
    this.people.hidden = state === 'InLobby'; // the lobby sees nobody in the meeting (as in Teams)
    const live = LIVE.includes(state);
    this.mute.textContent = call.isMuted ? 'Unmute' : 'Mute';
    this.mute.setAttribute('aria-pressed', String(call.isMuted));
    this.hold.textContent = state === 'LocalHold' ? 'Resume' : 'Hold';
    this.hold.disabled = !['Connected', 'LocalHold'].includes(state);
    for (const button of [this.keypadToggle, this.addToggle]) button.disabled = !live;
    if (!this.#session.isMeeting) this.raise.hidden = true;
    this.raise.disabled = state !== 'Connected';
    const capabilities = call.feature(this.#sdk.Features.Capabilities).capabilities;
    this.endAll.hidden = !capabilities?.hangUpForEveryOne?.isPresent;
    this.#tick();
    if (live && !this.#listening) this.#listen();
    if (state === 'Disconnected') this.#end();
  }

  /** The level of the selected microphone, from the moment the call is live. */
  #listen() {
    this.#listening = true;
    this.#level.listen(this.#devices.selectedMicrophone).catch((error) => this.report(error, 'Microphone level'));
  }

  #tick() {
    const { connectedAt, endedAt } = this.#session;
    this.clock.textContent = connectedAt ? duration((endedAt ?? new Date()) - connectedAt) : '';
  }

  #controls() {
    const { call } = this.#session;
    const report = (what) => (error) => this.report(error, what);
    this.mute = actionButton('Mute', () => (call.isMuted ? call.unmute() : call.mute()), report('Could not change mute'),
      { class: 'mute', 'aria-pressed': 'false' });
    this.hold = actionButton('Hold', () => (call.state === 'LocalHold' ? call.resume() : call.hold()),
      report('Could not change hold'), { class: 'hold' });
    this.keypadToggle = h('button', { type: 'button', class: 'keypad-toggle', text: 'Keypad', 'aria-expanded': 'false',
      onclick: () => this.#toggle(this.keypad, this.keypadToggle) });
    this.addToggle = h('button', { type: 'button', class: 'add-toggle', text: 'Add people', 'aria-expanded': 'false',
      onclick: () => this.#toggle(this.adder, this.addToggle) });
    this.devicesToggle = h('button', { type: 'button', class: 'devices-toggle', text: 'Devices', 'aria-expanded': 'false',
      onclick: () => this.#toggleDevices() });
    let handUp = false;
    this.raise = actionButton('Raise hand', async () => {
      await this.#roster?.raiseHand(!handUp);
      handUp = !handUp;
      this.raise.textContent = handUp ? 'Lower hand' : 'Raise hand';
    }, report('Could not raise your hand'), { class: 'raise-hand' });
    this.hangUp = actionButton(this.#session.isMeeting ? 'Leave' : 'Hang up', () => call.hangUp(), report('Could not hang up'),
      { class: 'hang-up danger' });
    this.endAll = actionButton('End for everyone', () => call.hangUp({ forEveryone: true }),
      report('Could not end the meeting'), { class: 'end-for-everyone danger', hidden: true });
    return h('div', { class: 'controls', role: 'toolbar', 'aria-label': 'Call controls' }, this.mute, this.hold,
      this.keypadToggle, this.addToggle, this.devicesToggle, this.raise, this.hangUp, this.endAll);
  }

  #toggle(panel, button) {
    panel.hidden = !panel.hidden;
    button.setAttribute('aria-expanded', String(!panel.hidden));
    if (!panel.hidden) panel.querySelector('button, input')?.focus();
  }

  async #toggleDevices() {
    const panel = this.#devices.element;
    this.#toggle(panel, this.devicesToggle);
    try {
      if (!panel.hidden) await this.#devices.open();
    } catch (error) {
      this.report(error, 'Audio devices');
    }
  }

  #keypad() {
    const { call } = this.#session;
    const sent = h('output', { class: 'dtmf-sent', 'aria-live': 'polite' });
    const press = async (key) => {
      try {
        await call.sendDtmf(dtmfTone(key));
        sent.textContent += key;
      } catch (error) {
        this.report(error, 'Could not send the tone');
      }
    };
    const panel = h('section', { class: 'keypad', hidden: true, 'aria-label': 'Keypad' },
      h('div', { class: 'keys' }, KEYS.map((key) => h('button', { type: 'button', class: 'key', text: key,
        'aria-label': `Key ${key}`, onclick: () => press(key) }))), sent);
    panel.addEventListener('keydown', (event) => {
      if (KEYS.includes(event.key) && event.target.tagName !== 'INPUT') {
        event.preventDefault();
        press(event.key);
      }
    });
    return panel;
  }

  #adder() {
    const input = h('input', { type: 'text', name: 'add', class: 'add-who', autocomplete: 'off',
      placeholder: 'A colleague\'s name or +number', 'aria-label': 'Colleague or phone number to add' });
    const matches = h('ul', { class: 'add-matches' });
    const form = h('form', { class: 'adder', hidden: true, 'aria-label': 'Add people' },
      h('label', {}, 'Add ', input), h('button', { type: 'submit', text: 'Add or search' }), matches);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      this.problem.textContent = '';
      const number = toE164(input.value);
      try {
        if (number) {
          await this.#add({ phoneNumber: number });
          input.value = '';
          return;
        }
        if (!input.value.trim()) throw new Error('Type a colleague\'s name or a number starting with +.');
        const { value } = await api.directory(input.value.trim());
        clear(matches, value.length ? value.map((person) => h('li', {},
          actionButton(`Add ${person.displayName}`, async () => {
            await this.#add({ microsoftTeamsUserId: person.id });
            clear(matches);
            input.value = '';
          }, (error) => this.report(error, 'Could not add'), { class: 'add-person' })))
          : h('li', { text: 'Nobody in your organisation matches that.' }));
      } catch (error) {
        this.report(error, 'Could not add');
      }
    });
    return form;
  }

  /** A colleague joins a meeting over the meeting's thread; a call between people grows over a new group chat of
   * everyone in it (Graph, through the portal), as Teams does. A phone number needs no thread. */
  async #threadFor(identifier) {
    const { call } = this.#session;
    if (!identifier.microsoftTeamsUserId) return undefined;
    if (this.#session.isMeeting) return call.info?.threadId;
    const colleagues = call.remoteParticipants.filter((p) => p.state !== 'Disconnected')
      .map((p) => p.identifier?.microsoftTeamsUserId).filter(Boolean);
    const { threadId } = await api.startGroupChat([...colleagues, identifier.microsoftTeamsUserId]);
    return threadId;
  }

  async #add(identifier) {
    const { call } = this.#session;
    const threadId = await this.#threadFor(identifier);
    const remote = call.addParticipant(identifier, threadId ? { threadId } : undefined);
    remote.on('stateChanged', () => {
      if (remote.state === 'Disconnected' && remote.callEndReason?.code) {
        const { title } = endReasonInWords(remote.callEndReason);
        this.report({ message: title, code: remote.callEndReason.code, subCode: remote.callEndReason.subCode },
          'Could not add');
      }
    });
    this.#showRoster();
  }

  #showRoster() {
    if (this.#roster) return;
    this.#roster = new Roster(this.#session.call, this.#sdk.Features, (error, what) => this.report(error, what),
      this.#me?.displayName);
    clear(this.people, this.#roster.element);
    if (this.#session.isMeeting) {
      const fetchDialIn = () => this.#roster.showDialIn().catch(() => {}); // a meeting without dial-in shows none
      if (this.#session.call.state === 'Connected') fetchDialIn();
      this.#session.addEventListener('change', () => {
        if (this.#session.call.state === 'Connected' && this.#roster.dialIn.hidden) fetchDialIn();
      });
    }
  }

  #end() {
    if (!this.ended.hidden) return;
    clearInterval(this.#timer);
    this.#devices.close();
    const reason = this.#session.call.callEndReason;
    const { title, detail } = endReasonInWords(reason);
    this.controls.hidden = true;
    this.keypad.hidden = true;
    this.adder.hidden = true;
    this.#devices.element.hidden = true;
    this.waiting.hidden = true;
    this.state.textContent = 'Ended';
    const back = h('button', { type: 'button', class: 'back primary', text: 'Back to home', onclick: () => this.close() });
    clear(this.ended, h('h2', { class: 'end-reason', text: title }),
      h('p', { class: 'end-detail', text: `${this.#session.connectedAt ? `Talked ${this.clock.textContent}. ` : ''}(${detail})` }),
      back);
    this.ended.dataset.meetingEnd = String(isMeetingEnd(reason));
    this.ended.hidden = false;
    back.focus();
  }

  close() {
    clearInterval(this.#timer);
    this.#devices.close();
    this.element.remove();
    this.#onClose?.();
  }
}
