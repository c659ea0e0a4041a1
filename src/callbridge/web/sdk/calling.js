/**
 * callbridge's browser calling SDK, first version: the Teams subset of Azure Communication Services'
 * `@azure/communication-calling`, with its names and shapes, against callbridge's `/calling/ws` (docs/protocol.md).
 *
 *   import { CallClient, AzureCommunicationTokenCredential } from '/sdk/calling.js';
 *   const client = new CallClient();
 *   const agent = await client.createTeamsCallAgent(new AzureCommunicationTokenCredential(token));
 *   agent.on('incomingCall', async ({ incomingCall }) => { const call = await incomingCall.accept(); });
 *   const call = await agent.startCall({ microsoftTeamsUserId: oid }, { threadId });
 *
 * As in callbridge's Python SDK (callbridge.sdk), which this module mirrors frame for frame:
 * - audio only, one remote participant per call, media peer to peer through an RTCPeerConnection;
 * - the offer and the answer carry the ICE candidates gathered so far (the Python side does not trickle), and
 *   candidates found later are trickled with `call.ice`; candidates from the other side are applied as they come;
 * - hold and mute keep the RTP stream and send silence (the track is disabled), as the Python side does;
 * - `startCall` and `accept` return promises (ACS's `startCall` returns the call at once); every error from the
 *   service rejects the promise of the command with a CallingError `{code, subCode, message}`.
 *
 * Every frame this module sends is followed by a `ping`. The service answers frames in order, so the `pong`
 * settles that command: an `error` frame before it is that command's refusal.
 */

const PROTOCOL_VERSION = 1;
const HELD_STATES = new Set(['LocalHold', 'RemoteHold']);
const EXPIRING_SOON_MS = 10 * 60 * 1000; // as ACS: a token with less than 10 minutes left is refreshed
const RENEW_BEFORE_MS = 5 * 60 * 1000; // the agent hands the socket a fresh token 5 minutes before expiry
const MIN_RETRY_MS = 1000;
const MAX_RETRY_MS = 60 * 1000;
const ANSWER_TIMEOUT_MS = 10 * 1000;
const WELCOME_TIMEOUT_MS = 15 * 1000;
const GATHERING_TIMEOUT_MS = 2000;
const EARLY_FRAME_MS = 5000;
const CLOSE_CODES = { 4000: 400, 4001: 401, 4008: 429, 4029: 429 };
const LOST_SOCKET = Object.freeze({ code: 0, subCode: 4521 }); // what the service records for a leg whose agent went
const DTMF_TONES = {
  Num0: '0', Num1: '1', Num2: '2', Num3: '3', Num4: '4', Num5: '5', Num6: '6', Num7: '7', Num8: '8', Num9: '9',
  Star: '*', Pound: '#', A: 'A', B: 'B', C: 'C', D: 'D', Flash: 'Flash',
};

// -- errors, events, small helpers ---------------------------------------------------------------------------

/** An error from the service or the SDK: `code` and `subCode` as ACS's (400/10101, 409/40230, ...). */
export class CallingError extends Error {
  constructor(code, subCode, message) {
    super(message);
    this.name = 'CallingError';
    this.code = code;
    this.subCode = subCode ?? 0;
  }
}

function errorFromFrame(frame) {
  return new CallingError(frame.code, frame.subCode ?? 0, frame.message ?? 'The calling service refused it.');
}

function timedOut(what) {
  return () => new CallingError(408, 0, `The calling service did not answer in time (${what}).`);
}

/** A promise with its resolve and reject outside, rejected by `timeoutError()` after `timeoutMs`. */
function deferred(timeoutMs, timeoutError) {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  const timer = setTimeout(() => reject(timeoutError()), timeoutMs);
  const settle = (fn) => (value) => { clearTimeout(timer); fn(value); };
  promise.catch(() => {}); // a rejection nobody waits for is not an unhandled one
  return { promise, resolve: settle(resolve), reject: settle(reject) };
}

function randomId() {
  return crypto.randomUUID().replaceAll('-', '');
}

class Emitter {
  #handlers = new Map();

  on(event, handler) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(handler);
  }

  off(event, handler) {
    this.#handlers.get(event)?.delete(handler);
  }

  _emit(event, args) {
    for (const handler of [...(this.#handlers.get(event) ?? [])]) {
      try {
        handler(args);
      } catch (error) {
        console.error(`callbridge: a '${event}' handler failed`, error);
      }
    }
  }
}

// -- identifiers (as @azure/communication-common) --------------------------------------------------------------

const TEAMS_USER_PREFIXES = { public: '8:orgid:', dod: '8:dod:', gcch: '8:gcch:' };
const TEAMS_APP_PREFIXES = { public: '28:orgid:', dod: '28:dod:', gcch: '28:gcch:' };
const COMMUNICATION_USER_PREFIXES = ['8:acs:', '8:spool:', '8:dod-acs:', '8:gcch-acs:'];

/** The raw id of an identifier: `{microsoftTeamsUserId}`, `{communicationUserId}`, `{phoneNumber}`,
 * `{teamsAppId}`, `{id}`, anything with a `rawId`, or a raw id string. */
export function getIdentifierRawId(identifier) {
  if (typeof identifier === 'string') return identifier;
  if (!identifier || typeof identifier !== 'object') throw new CallingError(400, 0, 'Not a communication identifier.');
  if (identifier.rawId) return identifier.rawId;
  if (identifier.microsoftTeamsUserId) {
    if (identifier.isAnonymous) return `8:teamsvisitor:${identifier.microsoftTeamsUserId}`;
    return TEAMS_USER_PREFIXES[identifier.cloud ?? 'public'] + identifier.microsoftTeamsUserId;
  }
  if (identifier.teamsAppId) return TEAMS_APP_PREFIXES[identifier.cloud ?? 'public'] + identifier.teamsAppId;
  if (identifier.communicationUserId) return identifier.communicationUserId;
  if (identifier.phoneNumber) return `4:${identifier.phoneNumber}`;
  if (identifier.id) return identifier.id;
  throw new CallingError(400, 0, 'Not a communication identifier.');
}

function prefixed(prefixes, rawId) {
  return Object.entries(prefixes).find(([, prefix]) => rawId.startsWith(prefix));
}

/** The identifier (with its `kind`) of a raw id. */
export function createIdentifierFromRawId(rawId) {
  if (rawId.startsWith('8:teamsvisitor:')) {
    return { kind: 'microsoftTeamsUser', microsoftTeamsUserId: rawId.slice(15), isAnonymous: true, rawId };
  }
  const teamsUser = prefixed(TEAMS_USER_PREFIXES, rawId);
  if (teamsUser) {
    const [cloud, prefix] = teamsUser;
    return { kind: 'microsoftTeamsUser', microsoftTeamsUserId: rawId.slice(prefix.length), isAnonymous: false,
      cloud, rawId };
  }
  const teamsApp = prefixed(TEAMS_APP_PREFIXES, rawId);
  if (teamsApp) return { kind: 'microsoftTeamsApp', teamsAppId: rawId.slice(teamsApp[1].length), cloud: teamsApp[0], rawId };
  if (COMMUNICATION_USER_PREFIXES.some((prefix) => rawId.startsWith(prefix))) {
    return { kind: 'communicationUser', communicationUserId: rawId };
  }
  if (rawId.startsWith('4:')) return { kind: 'phoneNumber', phoneNumber: rawId.slice(2), rawId };
  return { kind: 'unknown', id: rawId };
}

// -- the token credential (as ACS's AzureCommunicationTokenCredential) -------------------------------------------

function tokenExpiry(token) {
  try {
    const payload = token.split('.')[1].replaceAll('-', '+').replaceAll('_', '/');
    const claims = JSON.parse(atob(payload.padEnd(Math.ceil(payload.length / 4) * 4, '=')));
    if (typeof claims.exp === 'number') return claims.exp * 1000;
  } catch {
    // not a JWT: said below
  }
  throw new TypeError('The token is not a JWT with an "exp" claim.');
}

/**
 * `new AzureCommunicationTokenCredential(token)` or `({tokenRefresher, token?, refreshProactively?})`.
 * A token is "expiring soon" with less than 10 minutes left; with `refreshProactively` a timer refreshes it 10
 * minutes before expiry (or at half the remaining time when already inside that window), retrying a failing
 * refresher with back-off.
 */
export class AzureCommunicationTokenCredential {
  #token = null;
  #expiresOn = 0;
  #refresher = null;
  #refreshing = null;
  #timer = null;
  #disposed = false;

  constructor(tokenOrOptions) {
    const options = typeof tokenOrOptions === 'string' ? { token: tokenOrOptions } : (tokenOrOptions ?? {});
    if (!options.token && typeof options.tokenRefresher !== 'function') {
      throw new TypeError('Give a token, a tokenRefresher, or both.');
    }
    this.#refresher = options.tokenRefresher ?? null;
    if (options.token) this.#keep(options.token);
    if (options.refreshProactively && this.#refresher) this.#schedule(this.#nextRefreshIn());
  }

  /** `{token, expiresOnTimestamp}`, refreshed first when it expires soon and a refresher was given. */
  async getToken(options = {}) {
    if (this.#disposed) throw new Error('The credential has been disposed.');
    if (!this.#token || (this.#refresher && this.#expiresOn - Date.now() < EXPIRING_SOON_MS)) {
      await this.#refresh(options.abortSignal);
    }
    return { token: this.#token, expiresOnTimestamp: this.#expiresOn };
  }

  dispose() {
    this.#disposed = true;
    clearTimeout(this.#timer);
  }

  #keep(token) {
    this.#expiresOn = tokenExpiry(token);
    this.#token = token;
  }

  #refresh(abortSignal) {
    this.#refreshing ??= (async () => {
      try {
        const token = await this.#refresher(abortSignal);
        if (tokenExpiry(token) <= Date.now()) throw new Error('The token returned from the tokenRefresher is expired.');
        this.#keep(token);
      } finally {
        this.#refreshing = null;
      }
    })();
    return this.#refreshing;
  }

  #nextRefreshIn() {
    if (!this.#token) return 0;
    const left = this.#expiresOn - Date.now();
    return left > EXPIRING_SOON_MS ? left - EXPIRING_SOON_MS : Math.max(MIN_RETRY_MS, left / 2);
  }

  #schedule(delayMs, retryMs = MIN_RETRY_MS) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      if (this.#disposed) return;
      try {
        await this.#refresh();
        this.#schedule(this.#nextRefreshIn());
      } catch {
        this.#schedule(retryMs, Math.min(retryMs * 2, MAX_RETRY_MS));
      }
    }, delayMs);
  }
}

async function tokenOf(credential) {
  const accessToken = await credential.getToken();
  return typeof accessToken === 'string' ? accessToken : accessToken.token;
}

// -- devices --------------------------------------------------------------------------------------------------

/** `askDevicePermission({audio, video})` and the microphones; the one selected is used by later calls. */
class DeviceManager extends Emitter {
  selectedMicrophone = undefined;

  async askDevicePermission({ audio = false, video = false } = {}) {
    return { audio: audio && await canOpen({ audio: true }), video: video && await canOpen({ video: true }) };
  }

  async getMicrophones() {
    return (await devicesOf('audioinput')).map((d) => deviceInfo(d, 'Microphone'));
  }

  async getSpeakers() {
    return (await devicesOf('audiooutput')).map((d) => deviceInfo(d, 'Speaker'));
  }

  async selectMicrophone(microphone) {
    this.selectedMicrophone = microphone;
    this._emit('selectedMicrophoneChanged');
  }
}

async function canOpen(constraints) {
  try {
    const stream = await navigator.mediaDevices.getUserMedia(constraints);
    stream.getTracks().forEach((track) => track.stop());
    return true;
  } catch {
    return false;
  }
}

async function devicesOf(kind) {
  return (await navigator.mediaDevices.enumerateDevices()).filter((device) => device.kind === kind);
}

function deviceInfo(device, deviceType) {
  return { id: device.deviceId, name: device.label, deviceType, isSystemDefault: device.deviceId === 'default' };
}

// -- media: one RTCPeerConnection per call ----------------------------------------------------------------------

function iceGatheringDone(pc, timeoutMs) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      pc.removeEventListener('icegatheringstatechange', check);
      resolve();
    };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    const timer = setTimeout(done, timeoutMs);
    pc.addEventListener('icegatheringstatechange', check);
  });
}

/** The microphone out, the other side's audio to a player. SDP steps run one after another. */
class MediaSession {
  #steps = Promise.resolve();
  #earlyRemote = []; // the other side's candidates that came before its SDP
  #lateLocal = []; // our candidates found after our SDP went out, waiting for the call to have an id
  #signal = null;
  #sdpTaken = false;
  #closed = false;

  static async open(iceServers, microphone) {
    const audio = microphone ? { deviceId: { exact: microphone.id } } : true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (error) {
      throw new CallingError('MicrophoneUnavailable', 0, `The microphone could not be opened (${error.name}).`);
    }
    return new MediaSession(stream, iceServers);
  }

  constructor(stream, iceServers) {
    this.stream = stream;
    this.track = stream.getAudioTracks()[0];
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.addTrack(this.track, stream);
    this.player = new Audio();
    this.player.autoplay = true;
    this.pc.ontrack = (event) => this.#play(event);
    this.pc.onicecandidate = (event) => this.#foundCandidate(event.candidate);
  }

  async offer() {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    return this.#localSdp();
  }

  async answer(offerSdp) {
    await this.#step(async () => {
      await this.#setRemote('offer', offerSdp);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
    });
    return this.#localSdp();
  }

  /** An SDP from the other side: the answer to our offer, or a new offer (then our answer is returned). */
  remoteSdp(sdp) {
    return this.#step(async () => {
      if (this.pc.signalingState === 'have-local-offer') {
        await this.#setRemote('answer', sdp);
        return null;
      }
      await this.#setRemote('offer', sdp);
      await this.pc.setLocalDescription(await this.pc.createAnswer());
      return this.pc.localDescription.sdp;
    });
  }

  remoteCandidate(candidate) {
    return this.#step(async () => {
      if (!this.pc.remoteDescription) this.#earlyRemote.push(candidate);
      else await this.pc.addIceCandidate(candidate);
    });
  }

  /** Where our late candidates go (`call.ice`), once the call has an id. */
  signalWith(send) {
    this.#signal = send;
    this.#lateLocal.splice(0).forEach(send);
  }

  sendAudio(on) {
    this.track.enabled = on; // a disabled track sends silence: the stream goes on, as the Python side's does
  }

  getStats() {
    return this.pc.getStats();
  }

  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.pc.close();
    this.stream.getTracks().forEach((track) => track.stop());
    this.player.srcObject = null;
  }

  #step(work) {
    const next = this.#steps.then(() => (this.#closed ? undefined : work()));
    this.#steps = next.catch(() => {});
    return next;
  }

  async #setRemote(type, sdp) {
    await this.pc.setRemoteDescription({ type, sdp });
    for (const candidate of this.#earlyRemote.splice(0)) await this.pc.addIceCandidate(candidate);
  }

  /** Our SDP with the candidates gathered so far (all of them, unless gathering takes over 2 s). */
  async #localSdp() {
    await iceGatheringDone(this.pc, GATHERING_TIMEOUT_MS);
    this.#sdpTaken = true;
    return this.pc.localDescription.sdp;
  }

  #foundCandidate(candidate) {
    if (!this.#sdpTaken) return; // it is in the SDP we are about to send
    const wire = candidate ? candidate.toJSON() : null;
    if (this.#signal) this.#signal(wire);
    else this.#lateLocal.push(wire);
  }

  #play(event) {
    this.player.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    this.player.play().catch(() => {}); // no speaker, or autoplay refused: the call goes on
  }
}

// -- calls ---------------------------------------------------------------------------------------------------

/** The other side of a call. Events: `stateChanged`, `isMutedChanged`, `displayNameChanged`. */
class RemoteParticipant extends Emitter {
  constructor(identifier, displayName, state) {
    super();
    this.identifier = identifier;
    this.displayName = displayName;
    this.state = state;
    this.isMuted = false;
    this.isSpeaking = false;
    this.callEndReason = undefined;
  }

  _update(participant) {
    this.#change('displayName', participant.displayName ?? this.displayName, 'displayNameChanged');
    this.#change('state', participant.state, 'stateChanged');
    this.#change('isMuted', Boolean(participant.isMuted), 'isMutedChanged');
  }

  _ended(reason) {
    this.callEndReason = { ...reason };
    this.#change('state', 'Disconnected', 'stateChanged');
  }

  #change(field, value, event) {
    if (this[field] === value) return;
    this[field] = value;
    this._emit(event);
  }
}

/**
 * A call of this agent (`kind` 'TeamsCall'). `state` follows the service's `call.state` frames.
 * Events: `stateChanged`, `remoteParticipantsUpdated` ({added, removed}), `isMutedChanged`, and callbridge's own
 * `dtmfReceived` ({tone}).
 */
class TeamsCall extends Emitter {
  kind = 'TeamsCall';
  #agent;
  #media;
  #waiters = new Set();

  constructor(agent, { id, direction, callerInfo, remote, threadId, media }) {
    super();
    this.id = id;
    this.direction = direction;
    this.callerInfo = callerInfo;
    this.info = { threadId };
    this.state = 'None';
    this.isMuted = false;
    this.callEndReason = undefined;
    this.remoteParticipants = [remote];
    this.#agent = agent;
    this.#media = media;
    media.signalWith((candidate) => this.#relay('call.ice', { candidate }));
  }

  async mute() {
    this.#setMuted(true);
    await this.#command('call.mute');
  }

  async unmute() {
    this.#setMuted(false);
    await this.#command('call.unmute');
  }

  async hold() {
    await this.#command('call.hold');
    await this._until((state) => state === 'LocalHold');
  }

  async resume() {
    await this.#command('call.resume');
    await this._until((state) => state === 'Connected' || state === 'RemoteHold');
  }

  /** Leaves the call, which ends it for both sides (a 1:1 call: `forEveryone` changes nothing). */
  async hangUp(options = {}) {
    if (this.state === 'Disconnected') return;
    await this.#command('call.hangUp');
    await this._until((state) => state === 'Disconnected');
  }

  /** A tone by ACS's name (`Num0`..`Num9`, `Star`, `Pound`, `A`..`D`, `Flash`) or as sent (`0`, `*`, `#`). */
  async sendDtmf(tone) {
    await this.#command('call.dtmf', { tone: DTMF_TONES[tone] ?? tone });
  }

  /** callbridge's own: the RTCStatsReport of the call's peer connection. */
  getStats() {
    return this.#media.getStats();
  }

  /** Resolves when `predicate(state)` holds; rejects when the call ends first, or after `timeoutMs`. */
  _until(predicate, timeoutMs = ANSWER_TIMEOUT_MS) {
    if (predicate(this.state)) return Promise.resolve();
    const waiter = deferred(timeoutMs, timedOut(`call ${this.id}`));
    waiter.predicate = predicate;
    this.#waiters.add(waiter);
    waiter.promise.catch(() => {}).finally(() => this.#waiters.delete(waiter));
    return waiter.promise;
  }

  _onFrame(frame) {
    switch (frame.type) {
      case 'call.state': return this.#onState(frame);
      case 'call.participant': return this.remoteParticipants[0]?._update(frame.participant);
      case 'call.sdp': return this.#onSdp(frame.sdp);
      case 'call.ice': return frame.candidate && this.#media.remoteCandidate(frame.candidate).catch(warn);
      case 'call.dtmf': return this._emit('dtmfReceived', { tone: frame.tone });
      default: return undefined;
    }
  }

  /** The call is over: `reason` from the service, or the lost socket's. */
  _end(reason) {
    if (this.state === 'Disconnected') return;
    this.state = 'Disconnected';
    this.callEndReason = { code: reason.code, subCode: reason.subCode };
    this.#media.close();
    const removed = this.remoteParticipants.splice(0);
    removed.forEach((participant) => participant._ended(this.callEndReason));
    this._emit('stateChanged');
    if (removed.length) this._emit('remoteParticipantsUpdated', { added: [], removed });
    this.#settleWaiters();
    this.#agent._forget(this);
  }

  #onState(frame) {
    if (this.state === 'Disconnected') return;
    if (frame.state === 'Disconnected') return this._end(frame.endReason ?? { code: 0, subCode: 0 });
    this.state = frame.state;
    this.#media.sendAudio(!HELD_STATES.has(this.state) && !this.isMuted);
    this._emit('stateChanged');
    this.#settleWaiters();
  }

  async #onSdp(sdp) {
    try {
      const answer = await this.#media.remoteSdp(sdp);
      if (answer) this.#relay('call.sdp', { sdp: answer });
    } catch (error) {
      warn(error);
    }
  }

  #settleWaiters() {
    for (const waiter of this.#waiters) {
      if (waiter.predicate(this.state)) waiter.resolve();
      else if (this.state === 'Disconnected') {
        const { code, subCode } = this.callEndReason;
        waiter.reject(new CallingError(code, subCode, `The call ended (${code}/${subCode}).`));
      }
    }
  }

  #setMuted(muted) {
    if (this.isMuted === muted) return;
    this.isMuted = muted;
    this.#media.sendAudio(!HELD_STATES.has(this.state) && !muted);
    this._emit('isMutedChanged');
  }

  #command(type, fields = {}) {
    return this.#agent._command({ type, callId: this.id, ...fields });
  }

  #relay(type, fields) {
    this.#command(type, fields).catch(warn);
  }
}

function warn(error) {
  console.warn('callbridge:', error);
}

/** A call ringing on this agent (`kind` 'TeamsIncomingCall'). Event: `callEnded` ({callEndReason}). */
class TeamsIncomingCall extends Emitter {
  kind = 'TeamsIncomingCall';
  #agent;
  #offer;
  #candidates = [];
  #done = false;

  constructor(agent, frame) {
    super();
    this.id = frame.callId;
    this.callerInfo = {
      identifier: createIdentifierFromRawId(frame.caller.rawId),
      displayName: frame.caller.displayName ?? undefined,
    };
    this.info = { threadId: frame.threadId };
    this.callEndReason = undefined;
    this.#agent = agent;
    this.#offer = frame.sdp;
  }

  /** Takes the call; resolves with the TeamsCall once it is Connected. */
  async accept(options = {}) {
    if (this.#done) throw new CallingError(400, 41006, 'The call is no longer ringing.');
    this.#done = true;
    return this.#agent._accept(this, this.#offer, this.#candidates);
  }

  async reject() {
    if (this.#done) throw new CallingError(400, 41007, 'The call is no longer ringing.');
    this.#done = true;
    await this.#agent._command({ type: 'call.reject', callId: this.id });
  }

  _addCandidate(candidate) {
    if (candidate) this.#candidates.push(candidate);
  }

  _ended(reason) {
    this.#done = true;
    this.callEndReason = { code: reason.code, subCode: reason.subCode };
    this._emit('callEnded', { callEndReason: this.callEndReason });
  }
}

// -- the agent: one WebSocket to /calling/ws --------------------------------------------------------------------

/**
 * A Teams user's endpoint (`kind` 'TeamsCallAgent'). Events: `incomingCall` ({incomingCall}), `callsUpdated`
 * ({added, removed}), `connectionStateChanged` ({oldValue, newValue, reason}).
 */
class TeamsCallAgent extends Emitter {
  kind = 'TeamsCallAgent';
  connectionState = 'Disconnected';
  agentId = '';
  identity = '';
  #url;
  #credential;
  #deviceManager;
  #onDisposed;
  #token = '';
  #ws = null;
  #welcome = null;
  #iceServers = [];
  #acks = [];
  #started = new Map();
  #calls = new Map();
  #incoming = new Map();
  #early = new Map();
  #renewTimer = null;
  #disposed = false;

  constructor(url, credential, deviceManager, onDisposed) {
    super();
    this.#url = url;
    this.#credential = credential;
    this.#deviceManager = deviceManager;
    this.#onDisposed = onDisposed;
  }

  /** The calls that have not ended. */
  get calls() {
    return [...this.#calls.values()].filter((call) => call.state !== 'Disconnected');
  }

  async _connect() {
    this.#token = await tokenOf(this.#credential);
    this.#welcome = deferred(WELCOME_TIMEOUT_MS, timedOut('welcome'));
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, token: this.#token }));
    ws.onmessage = (event) => this.#onMessage(event);
    ws.onclose = (event) => this.#onClose(event);
    try {
      this.#onWelcome(await this.#welcome.promise);
    } catch (error) {
      ws.close();
      throw error;
    }
  }

  /** Calls a Teams user (`{microsoftTeamsUserId}`, or a raw id) over the chat `threadId` they share with us. */
  async startCall(target, options = {}) {
    const rawId = getIdentifierRawId(Array.isArray(target) ? onlyOne(target) : target);
    const media = await MediaSession.open(this.#iceServers, this.#deviceManager.selectedMicrophone);
    const requestId = randomId();
    const started = deferred(ANSWER_TIMEOUT_MS, timedOut('call.start'));
    this.#started.set(requestId, started);
    try {
      const sdp = await media.offer();
      await this._command({ type: 'call.start', requestId, target: { rawId }, threadId: options.threadId, sdp });
      const { callId } = await started.promise;
      const call = new TeamsCall(this, {
        id: callId, direction: 'Outgoing', threadId: options.threadId, media,
        callerInfo: { identifier: createIdentifierFromRawId(this.identity), displayName: undefined },
        remote: new RemoteParticipant(createIdentifierFromRawId(rawId), undefined, 'Connecting'),
      });
      this.#adopt(call);
      return call;
    } catch (error) {
      media.close();
      throw error;
    } finally {
      this.#started.delete(requestId);
    }
  }

  async dispose() {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.allSettled(this.calls.map((call) => call.hangUp()));
    this.#ws?.close(1000, 'disposed');
    this.#onDisposed();
  }

  /** Sends a frame and a `ping`; the `pong` resolves, and an `error` before it rejects. */
  _command(frame) {
    if (this.#ws?.readyState !== WebSocket.OPEN) {
      return Promise.reject(new CallingError(503, 0, 'The agent is not connected to the calling service.'));
    }
    const ack = deferred(ANSWER_TIMEOUT_MS, timedOut(frame.type));
    ack.error = null;
    this.#acks.push(ack);
    ack.promise.catch(() => {
      const index = this.#acks.indexOf(ack); // timed out: no pong will settle it
      if (index >= 0) this.#acks.splice(index, 1);
    });
    this.#ws.send(JSON.stringify(frame));
    this.#ws.send(JSON.stringify({ type: 'ping' }));
    return ack.promise;
  }

  async _accept(incoming, offer, candidates) {
    const media = await MediaSession.open(this.#iceServers, this.#deviceManager.selectedMicrophone);
    const { callerInfo } = incoming;
    const call = new TeamsCall(this, {
      id: incoming.id, direction: 'Incoming', threadId: incoming.info.threadId, media, callerInfo,
      remote: new RemoteParticipant(callerInfo.identifier, callerInfo.displayName, 'Connected'),
    });
    this.#calls.set(call.id, call); // from here the call's frames reach it
    try {
      candidates.forEach((candidate) => media.remoteCandidate(candidate).catch(warn));
      const sdp = offer ? await media.answer(offer) : undefined;
      await this._command({ type: 'call.accept', callId: call.id, ...(sdp ? { sdp } : {}) });
    } catch (error) {
      this.#calls.delete(call.id);
      media.close();
      throw error;
    }
    this.#incoming.delete(call.id);
    this._emit('callsUpdated', { added: [call], removed: [] });
    await call._until((state) => state === 'Connected');
    return call;
  }

  _forget(call) {
    if (this.#calls.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    this._emit('callsUpdated', { added: [], removed: [call] });
  }

  #adopt(call) {
    this.#calls.set(call.id, call);
    this._emit('callsUpdated', { added: [call], removed: [] });
    for (const frame of this.#early.get(call.id) ?? []) call._onFrame(frame);
    this.#early.delete(call.id);
  }

  #onWelcome(frame) {
    this.agentId = frame.agentId;
    this.identity = frame.identity.rawId;
    this.#iceServers = frame.iceServers ?? [];
    this.connectionState = 'Connected';
    this.#scheduleRenewal(frame.expiresOn);
  }

  #onMessage(event) {
    let frame;
    try {
      frame = JSON.parse(event.data);
    } catch {
      return;
    }
    switch (frame.type) {
      case 'welcome': return this.#welcome.resolve(frame);
      case 'pong': return this.#settleAck();
      case 'error': return this.#onError(frame);
      case 'token.accepted': return this.#scheduleRenewal(frame.expiresOn);
      case 'call.started': return this.#started.get(frame.requestId)?.resolve(frame);
      case 'call.incoming': return this.#onIncoming(frame);
      case 'call.incoming.ended': return this.#onIncomingEnded(frame);
      default: return this.#route(frame);
    }
  }

  #onError(frame) {
    const head = this.#acks[0];
    if (head && !head.error) head.error = errorFromFrame(frame);
    else warn(errorFromFrame(frame));
  }

  #settleAck() {
    const ack = this.#acks.shift();
    if (ack?.error) ack.reject(ack.error);
    else ack?.resolve();
  }

  #onIncoming(frame) {
    const incomingCall = new TeamsIncomingCall(this, frame);
    this.#incoming.set(incomingCall.id, incomingCall);
    this._emit('incomingCall', { incomingCall });
  }

  #onIncomingEnded(frame) {
    const incoming = this.#incoming.get(frame.callId);
    this.#incoming.delete(frame.callId);
    incoming?._ended(frame.endReason ?? { code: 0, subCode: 0 });
  }

  #route(frame) {
    const call = this.#calls.get(frame.callId);
    if (call) return call._onFrame(frame);
    const incoming = this.#incoming.get(frame.callId);
    if (incoming) return frame.type === 'call.ice' ? incoming._addCandidate(frame.candidate) : undefined;
    if (frame.callId) this.#keepEarly(frame);
  }

  /** A frame about a call whose `call.started` has not been read yet: kept a few seconds for it. */
  #keepEarly(frame) {
    if (!this.#early.has(frame.callId)) {
      this.#early.set(frame.callId, []);
      setTimeout(() => this.#early.delete(frame.callId), EARLY_FRAME_MS);
    }
    this.#early.get(frame.callId).push(frame);
  }

  #scheduleRenewal(expiresOn) {
    clearTimeout(this.#renewTimer);
    const left = Date.parse(expiresOn) - Date.now();
    const delay = left > 2 * RENEW_BEFORE_MS ? left - RENEW_BEFORE_MS : Math.max(MIN_RETRY_MS, left / 2);
    this.#renewTimer = setTimeout(() => this.#renewToken(), delay);
  }

  /** Hands the socket a fresh token from the credential; a static token is left to expire (close 4001). */
  async #renewToken() {
    try {
      const token = await tokenOf(this.#credential);
      if (token === this.#token) return;
      await this._command({ type: 'token.update', token });
      this.#token = token;
    } catch (error) {
      warn(error);
      if (this.connectionState === 'Connected') this.#renewTimer = setTimeout(() => this.#renewToken(), MAX_RETRY_MS);
    }
  }

  #onClose(event) {
    clearTimeout(this.#renewTimer);
    const code = CLOSE_CODES[event.code] ?? 503;
    const message = event.reason || 'The connection to the calling service closed.';
    this.#welcome.reject(new CallingError(code, 0, message));
    this.#acks.splice(0).forEach((ack) => ack.reject(new CallingError(503, 0, message)));
    [...this.#calls.values()].forEach((call) => call._end(LOST_SOCKET));
    [...this.#incoming.values()].forEach((incoming) => incoming._ended(LOST_SOCKET));
    this.#incoming.clear();
    const oldValue = this.connectionState;
    this.connectionState = 'Disconnected';
    if (oldValue === 'Disconnected') return;
    const reason = this.#disposed ? 'disposed' : event.code === 4001 ? 'tokenExpired' : 'connectionLost';
    this._emit('connectionStateChanged', { oldValue, newValue: 'Disconnected', reason });
  }
}

function onlyOne(targets) {
  if (targets.length !== 1) throw new CallingError(400, 0, 'This version calls one person at a time.');
  return targets[0];
}

// -- the client -----------------------------------------------------------------------------------------------

/**
 * `new CallClient()`: the entry point. callbridge's own option: `endpoint`, the service's https origin (by default
 * the origin this module was loaded from).
 */
export class CallClient {
  #endpoint;
  #agent = null;
  #deviceManager = new DeviceManager();

  constructor(options = {}) {
    this.#endpoint = options.endpoint ?? new URL(import.meta.url).origin;
  }

  /** One agent per client (a second one is refused with 409/40230 until the first is disposed). */
  async createTeamsCallAgent(tokenCredential, options = {}) {
    if (this.#agent) {
      throw new CallingError(409, 40230, 'A TeamsCallAgent already exists on this CallClient; dispose it first.');
    }
    const url = new URL('/calling/ws', this.#endpoint);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    const agent = new TeamsCallAgent(url.href, tokenCredential, this.#deviceManager, () => {
      if (this.#agent === agent) this.#agent = null;
    });
    this.#agent = agent;
    try {
      await agent._connect();
    } catch (error) {
      this.#agent = null;
      throw error;
    }
    return agent;
  }

  async getDeviceManager() {
    return this.#deviceManager;
  }

  async dispose() {
    await this.#agent?.dispose();
  }
}
