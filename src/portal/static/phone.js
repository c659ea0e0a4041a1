/**
 * This tab's calling endpoint: one TeamsCallAgent on the user's communication token (refreshed from the portal's
 * `/api/token` before it expires, as ACS's credential does), and the calls it makes, joins and answers, each
 * wrapped in a `CallSession` that remembers who the other side is and when things happened, and records the call
 * in the history once it ends. Events (DOM events on the Phone): `session` (a call to show), `incoming` (a call
 * ringing here), `connection` (the agent's connection state).
 */
import * as api from './api.js';

export class CallSession extends EventTarget {
  /** `peer`: `{rawId, name}` of the other side (or the meeting), with `{customer, company, number}` or `{title}`
   * when known; `kind`: 'phone', 'colleague' or 'meeting'. */
  constructor(call, { peer, kind, direction }) {
    super();
    this.call = call;
    this.peer = peer;
    this.kind = kind;
    this.direction = direction ?? call.direction;
    this.startedAt = new Date();
    this.connectedAt = null;
    this.endedAt = null;
    this.sawEarlyMedia = false;
    call.on('stateChanged', () => this.#stateChanged());
    this.#stateChanged();
  }

  get isMeeting() { return this.kind === 'meeting'; }

  #stateChanged() {
    const { state } = this.call;
    if (state === 'EarlyMedia') this.sawEarlyMedia = true;
    if (state === 'Connected' && !this.connectedAt) this.connectedAt = new Date();
    if (state === 'Disconnected' && !this.endedAt) {
      this.endedAt = new Date();
      this.#record();
    }
    this.dispatchEvent(new Event('change'));
  }

  /** POST /api/history; a failure is reported on the session (the call itself is over either way). */
  #record() {
    const reason = this.call.callEndReason ?? { code: 0, subCode: 0 };
    api.recordCall({
      callId: this.call.id, direction: this.direction.toLowerCase(), peerRawId: this.peer.rawId, peerName: this.peer.name,
      startedAt: this.startedAt.toISOString(), connectedAt: this.connectedAt?.toISOString() ?? null,
      endedAt: this.endedAt.toISOString(), endReason: { code: reason.code, subCode: reason.subCode ?? 0 },
    }).catch((error) => this.dispatchEvent(new CustomEvent('problem', { detail: error })));
  }
}

export class Phone extends EventTarget {
  constructor(sdk, agent, devices) {
    super();
    this.sdk = sdk;
    this.agent = agent;
    this.devices = devices;
    this.session = null;
    agent.on('incomingCall', ({ incomingCall }) => this.dispatchEvent(new CustomEvent('incoming', {
      detail: incomingCall })));
    agent.on('connectionStateChanged', ({ newValue, reason }) => this.dispatchEvent(new CustomEvent('connection', {
      detail: { state: newValue, reason } })));
  }

  /** `firstToken`: a `/api/token` answer already under way (the page asks for it beside `/api/me`). */
  static async connect(sdk, firstToken = null) {
    const client = new sdk.CallClient();
    let early = firstToken;
    const credential = new sdk.AzureCommunicationTokenCredential({
      tokenRefresher: () => {
        const token = early ?? api.communicationToken();
        early = null;
        return token;
      },
      refreshProactively: true,
    });
    const agent = await client.createTeamsCallAgent(credential);
    return new Phone(sdk, agent, await client.getDeviceManager());
  }

  get busy() {
    return Boolean(this.session && this.session.call.state !== 'Disconnected');
  }

  /** Use case 1: a customer's (or any) phone number, from the user's own number; `customer`: `{name, company}`. */
  callNumber(phoneNumber, customer = null) {
    const peer = { rawId: `4:${phoneNumber}`, name: customer?.name ?? phoneNumber, number: phoneNumber,
      company: customer?.company, customer: Boolean(customer) };
    return this.#show(this.agent.startCall([{ phoneNumber }]), { peer, kind: 'phone' });
  }

  /** Use case 3: a colleague, over the 1:1 chat the portal finds or creates. */
  async callColleague(person) {
    const { threadId } = await api.startChat(person.id);
    return this.#show(this.agent.startCall([{ microsoftTeamsUserId: person.id }], { threadId }), {
      peer: { rawId: `8:orgid:${person.id}`, name: person.displayName, title: person.jobTitle }, kind: 'colleague' });
  }

  /** Use case 5: `{meetingLink}` or `{meetingId, passcode}`. */
  join(locator, subject, { muted = false } = {}) {
    const rawId = locator.meetingLink ?? `meeting:${locator.meetingId}`;
    return this.#show(this.agent.join(locator, { audioOptions: { muted } }), { peer: { rawId, name: subject || 'Meeting' }, kind: 'meeting',
      direction: 'Outgoing' });
  }

  /** Use cases 2 and 4: the call this tab answers. One call at a time on screen: a call in progress ends first
   * (the toast says so on its button). */
  async answer(incomingCall, peer) {
    if (this.busy) await this.session.call.hangUp();
    const call = await incomingCall.accept();
    const kind = peer.rawId.startsWith('4:') ? 'phone' : 'colleague';
    return this.#show(call, { peer, kind, direction: 'Incoming' });
  }

  /** A call that rang here and ended unanswered (declined here, missed): recorded too, as a missed call. */
  recordUnanswered(incomingCall, peer, startedAt) {
    const reason = incomingCall.callEndReason ?? { code: 0, subCode: 0 };
    if (reason.code === 487 && reason.subCode === 10003) return Promise.resolve(); // the tab that answered records it
    return api.recordCall({
      callId: incomingCall.id, direction: 'incoming', peerRawId: peer.rawId, peerName: peer.name,
      startedAt: startedAt.toISOString(), connectedAt: null, endedAt: new Date().toISOString(),
      endReason: { code: reason.code, subCode: reason.subCode ?? 0 },
    });
  }

  #show(call, details) {
    this.session = new CallSession(call, details);
    this.dispatchEvent(new CustomEvent('session', { detail: this.session }));
    return this.session;
  }
}

/** Inbound audio of a call from getStats(): what the tests (and a "no audio?" diagnosis) read. */
export async function inboundAudio(call) {
  if (!call || call.state === 'Disconnected') return null;
  const stats = [...(await call.getStats()).values()];
  const inbound = stats.find((s) => s.type === 'inbound-rtp' && s.kind === 'audio');
  if (!inbound) return null;
  const codec = stats.find((s) => s.id === inbound.codecId);
  return { packetsReceived: inbound.packetsReceived, bytesReceived: inbound.bytesReceived,
    audioLevel: inbound.audioLevel, totalAudioEnergy: inbound.totalAudioEnergy, codec: codec?.mimeType };
}
