/**
 * callbridge's browser calling SDK: the Teams subset of Azure Communication Services' `@azure/communication-calling`
 * (2.x), with its names and shapes, against callbridge's `/calling/ws` (docs/protocol.md). Its declarations are
 * `/sdk/calling.d.ts`; a program written against ACS's compiles against them and runs here with only its import
 * changed (tests/interop/test_sdk_types.py, tests/browser/test_browser_acs_app.py).
 *
 *   import { CallClient, AzureCommunicationTokenCredential } from '/sdk/calling.js';
 *   const client = new CallClient();
 *   const agent = await client.createTeamsCallAgent(new AzureCommunicationTokenCredential(token));
 *   agent.on('incomingCall', async ({ incomingCall }) => { const call = await incomingCall.accept(); });
 *   const call = agent.startCall({ microsoftTeamsUserId: oid }, { threadId });   // the call, at once
 *   call.on('stateChanged', () => console.log(call.state, call.callEndReason));
 *
 * As ACS's: `startCall` and `join` return the call at once, in state `None`; it goes `Connecting` as soon as the
 * caller's code has run, and the service's refusal (or a microphone that cannot be opened) ends it: `Disconnected`
 * with `callEndReason {code, subCode}`. Until the service has named the call, `call.id` is a local one, and
 * `idChanged` fires when the service's arrives (as ACS's). Arguments that are not identifiers throw at once.
 *
 * As in callbridge's Python SDK (callbridge.sdk), which this module mirrors frame for frame:
 * - audio only; a 1:1 call's media peer to peer through an RTCPeerConnection; a meeting's or a group call's through
 *   the service's mixer, which offers each media session (`call.sdp` with `mediaSession`): it is answered on a new
 *   peer connection with the same microphone, with every ICE candidate in the answer (the mixer takes none
 *   trickled), and the previous connection is dropped;
 * - meetings (`join`, `call.lobby`, roles, capabilities, raised hands, dominant speakers, mute others, dial-in
 *   details) and group calls (`addParticipant`, `removeParticipant`) as the Python SDK's, frame for frame;
 * - the offer and the answer carry the ICE candidates gathered so far (the Python side does not trickle), and
 *   candidates found later are trickled with `call.ice`; candidates from the other side are applied as they come;
 * - hold and mute keep the RTP stream and send silence (the track is disabled), as the Python side does.
 *
 * Every frame this module sends is followed by a `ping`. The service answers frames in order, so the `pong`
 * settles that command: an `error` frame before it is that command's refusal (a rejected promise with a
 * CallingError `{code, subCode, message}`, or for `call.start` the call's end reason). An error that echoes a
 * `requestId` the SDK sent (joins, lobby decisions, muting others, adding and removing people, dial-in details)
 * goes to that request instead, as in the Python SDK.
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
const CLOSE_CODES = { 4000: 400, 4001: 401, 4008: 429, 4029: 429 };
const LOST_SOCKET = Object.freeze({ code: 0, subCode: 4521 }); // what the service records for a leg whose agent went
const HUNG_UP = Object.freeze({ code: 0, subCode: 0 });
const MEDIA_SETUP_FAILED = Object.freeze({ code: 410, subCode: 3100 }); // ACS: the client's media setup failed
const PROTOCOL_ERROR_CODES = { RateLimited: 429, FrameTooLarge: 413 }; // a protocol error as a call's end reason
const DTMF_TONES = {
  Num0: '0', Num1: '1', Num2: '2', Num3: '3', Num4: '4', Num5: '5', Num6: '6', Num7: '7', Num8: '8', Num9: '9',
  Star: '*', Pound: '#', A: 'A', B: 'B', C: 'C', D: 'D', Flash: 'Flash',
};

/** The kinds of ACS's objects (its enums; the values are the strings of `kind`). */
export const CallKind = Object.freeze({ Call: 'Call', TeamsCall: 'TeamsCall' });
export const CallAgentKind = Object.freeze({ CallAgent: 'CallAgent', TeamsCallAgent: 'TeamsCallAgent' });
export const IncomingCallKind = Object.freeze({ IncomingCall: 'IncomingCall', TeamsIncomingCall: 'TeamsIncomingCall' });

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

/**
 * A failure as a call's end reason: `{code, subCode}` as ACS's, and callbridge's `message`. A protocol error's
 * string code (`InvalidFrame`, `RateLimited`) becomes an HTTP-like number, as a call end reason's code is one.
 */
function endReasonOf(error) {
  const code = typeof error?.code === 'number' ? error.code : (PROTOCOL_ERROR_CODES[error?.code] ?? 400);
  return { code, subCode: typeof error?.subCode === 'number' ? error.subCode : 0, message: error?.message };
}

/** A promise with its resolve and reject outside, rejected by `timeoutError()` after `timeoutMs`. */
function deferred(timeoutMs, timeoutError) {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  const timer = timeoutMs ? setTimeout(() => reject(timeoutError()), timeoutMs) : null;
  const settle = (fn) => (value) => { clearTimeout(timer); fn(value); };
  promise.catch(() => {}); // a rejection nobody waits for is not an unhandled one
  return { promise, resolve: settle(resolve), reject: settle(reject) };
}

function randomId() {
  return crypto.randomUUID().replaceAll('-', '');
}

function warn(error) {
  console.warn('callbridge:', error);
}

/** `on`/`off` with ACS's event names; a handler that throws is logged, and the others still run. */
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

  _forgetHandlers() {
    this.#handlers.clear();
  }
}

// -- identifiers (as @azure/communication-common 2.5) ------------------------------------------------------------

const CLOUD_OF_TEAMS_USER = { '8:orgid:': 'public', '8:dod:': 'dod', '8:gcch:': 'gcch' };
const CLOUD_OF_TEAMS_APP = { '28:orgid:': 'public', '28:dod:': 'dod', '28:gcch:': 'gcch' };
const CLOUD_OF_ACS = { '8:acs:': 'public', '8:dod-acs:': 'dod', '8:gcch-acs:': 'gcch' };
const TEAMS_USER_PREFIX = { public: '8:orgid:', dod: '8:dod:', gcch: '8:gcch:' };
const TEAMS_APP_PREFIX = { public: '28:orgid:', dod: '28:dod:', gcch: '28:gcch:' };
const ACS_PREFIX = { public: '8:acs:', dod: '8:dod-acs:', gcch: '8:gcch-acs:' };

export const isCommunicationUserIdentifier = (identifier) => typeof identifier.communicationUserId === 'string';
export const isPhoneNumberIdentifier = (identifier) => typeof identifier.phoneNumber === 'string';
export const isMicrosoftTeamsUserIdentifier = (identifier) => typeof identifier.microsoftTeamsUserId === 'string';
export const isMicrosoftTeamsAppIdentifier = (identifier) => typeof identifier.teamsAppId === 'string';
export const isTeamsExtensionUserIdentifier = (identifier) => ['userId', 'tenantId', 'resourceId']
  .every((key) => typeof identifier[key] === 'string');
export const isUnknownIdentifier = (identifier) => typeof identifier.id === 'string';

/** The identifier with its `kind`, decided by its fields in communication-common's order. */
export function getIdentifierKind(identifier) {
  if (isCommunicationUserIdentifier(identifier)) return { ...identifier, kind: 'communicationUser' };
  if (isPhoneNumberIdentifier(identifier)) return { ...identifier, kind: 'phoneNumber' };
  if (isMicrosoftTeamsUserIdentifier(identifier)) return { ...identifier, kind: 'microsoftTeamsUser' };
  if (isMicrosoftTeamsAppIdentifier(identifier)) return { ...identifier, kind: 'microsoftTeamsApp' };
  if (isTeamsExtensionUserIdentifier(identifier)) return { ...identifier, kind: 'teamsExtensionUser' };
  return { ...identifier, kind: 'unknown' };
}

/** The raw id of an identifier (callbridge also takes a raw id string as it is). */
export function getIdentifierRawId(identifier) {
  if (typeof identifier === 'string') return identifier;
  if (!identifier || typeof identifier !== 'object') throw new TypeError('Not a communication identifier.');
  const id = getIdentifierKind(identifier);
  if (id.rawId && id.kind !== 'communicationUser') return id.rawId;
  switch (id.kind) {
    case 'communicationUser': return id.communicationUserId;
    case 'microsoftTeamsUser':
      return id.isAnonymous ? `8:teamsvisitor:${id.microsoftTeamsUserId}`
        : (TEAMS_USER_PREFIX[id.cloud] ?? TEAMS_USER_PREFIX.public) + id.microsoftTeamsUserId;
    case 'microsoftTeamsApp': return (TEAMS_APP_PREFIX[id.cloud] ?? TEAMS_APP_PREFIX.public) + id.teamsAppId;
    case 'phoneNumber': return `4:${id.phoneNumber}`;
    case 'teamsExtensionUser':
      return `${ACS_PREFIX[id.cloud] ?? ACS_PREFIX.public}${id.resourceId}_${id.tenantId}_${id.userId}`;
    default:
      if (typeof id.id === 'string') return id.id;
      throw new TypeError('Not a communication identifier.');
  }
}

/**
 * The identifier (with its `kind`) of a raw id, as communication-common's; callbridge's also carries the `rawId`
 * (an optional field of the identifier types), so that an app can show or store it without converting back.
 */
export function createIdentifierFromRawId(rawId) {
  if (rawId.startsWith('4:')) {
    const phoneNumber = rawId.slice(2);
    const isAnonymous = phoneNumber === 'anonymous';
    const asserted = isAnonymous ? -1 : phoneNumber.lastIndexOf('_') + 1;
    const assertedId = asserted > 0 && asserted < phoneNumber.length ? phoneNumber.slice(asserted) : undefined;
    return { kind: 'phoneNumber', phoneNumber, isAnonymous, assertedId, rawId };
  }
  const segments = rawId.split(':');
  if (segments.length !== 3) return { kind: 'unknown', id: rawId };
  const prefix = `${segments[0]}:${segments[1]}:`;
  const suffix = segments[2];
  if (prefix === '8:teamsvisitor:') {
    return { kind: 'microsoftTeamsUser', microsoftTeamsUserId: suffix, isAnonymous: true, rawId };
  }
  if (CLOUD_OF_TEAMS_USER[prefix]) {
    return { kind: 'microsoftTeamsUser', microsoftTeamsUserId: suffix, isAnonymous: false,
      cloud: CLOUD_OF_TEAMS_USER[prefix], rawId };
  }
  if (CLOUD_OF_TEAMS_APP[prefix]) return { kind: 'microsoftTeamsApp', teamsAppId: suffix, cloud: CLOUD_OF_TEAMS_APP[prefix], rawId };
  if (CLOUD_OF_ACS[prefix]) {
    const parts = suffix.split('_');
    if (parts.length !== 3) return { kind: 'communicationUser', communicationUserId: rawId };
    const [resourceId, tenantId, userId] = parts;
    return { kind: 'teamsExtensionUser', userId, tenantId, resourceId, cloud: CLOUD_OF_ACS[prefix], rawId };
  }
  if (prefix === '8:spool:') return { kind: 'communicationUser', communicationUserId: rawId };
  return { kind: 'unknown', id: rawId };
}

// -- the token credential (as communication-common's AzureCommunicationTokenCredential) --------------------------

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

/** A token string or an AccessToken `{token, expiresOnTimestamp}`, as `{token, expiresOnTimestamp}`. */
function accessTokenOf(tokenOrAccessToken) {
  if (typeof tokenOrAccessToken === 'string') {
    return { token: tokenOrAccessToken, expiresOnTimestamp: tokenExpiry(tokenOrAccessToken) };
  }
  if (tokenOrAccessToken && typeof tokenOrAccessToken.token === 'string'
      && typeof tokenOrAccessToken.expiresOnTimestamp === 'number') {
    return { token: tokenOrAccessToken.token, expiresOnTimestamp: tokenOrAccessToken.expiresOnTimestamp };
  }
  throw new TypeError('A token is a JWT string or an AccessToken {token, expiresOnTimestamp}.');
}

/**
 * `new AzureCommunicationTokenCredential(token)` (a string or an AccessToken) or
 * `({tokenRefresher, token?, refreshProactively?})`. A token is "expiring soon" with less than 10 minutes left;
 * with `refreshProactively` a timer refreshes it 10 minutes before expiry (or at half the remaining time when
 * already inside that window), retrying a failing refresher with back-off.
 */
export class AzureCommunicationTokenCredential {
  #token = null;
  #expiresOn = 0;
  #refresher = null;
  #refreshing = null;
  #timer = null;
  #disposed = false;

  constructor(tokenOrOptions) {
    const isOptions = tokenOrOptions && typeof tokenOrOptions === 'object' && 'tokenRefresher' in tokenOrOptions;
    const options = isOptions ? tokenOrOptions : { token: tokenOrOptions };
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
    const { token: text, expiresOnTimestamp } = accessTokenOf(token);
    this.#expiresOn = expiresOnTimestamp;
    this.#token = text;
  }

  #refresh(abortSignal) {
    this.#refreshing ??= (async () => {
      try {
        const token = await this.#refresher(abortSignal);
        if (accessTokenOf(token).expiresOnTimestamp <= Date.now()) {
          throw new Error('The token returned from the tokenRefresher is expired.');
        }
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

const byId = (a, b) => a.id === b.id;

/**
 * The browser's devices as ACS's DeviceManager: lists, the microphone and speaker later calls use, permission.
 * Events: `audioDevicesUpdated` and `videoDevicesUpdated` ({added, removed}, from the browser's `devicechange`),
 * `selectedMicrophoneChanged`, `selectedSpeakerChanged`. Speakers can be chosen where the browser has
 * `HTMLMediaElement.setSinkId`.
 */
class DeviceManager extends Emitter {
  selectedMicrophone = undefined;
  selectedSpeaker = undefined;
  #known = null; // {audio, video} as last listed, to tell what a `devicechange` added or removed

  constructor() {
    super();
    navigator.mediaDevices?.addEventListener?.('devicechange', () => this.#devicesChanged().catch(warn));
  }

  get isSpeakerSelectionAvailable() {
    return typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;
  }

  /** `{audio, video}`: whether each asked for could be opened (the browser asks the user once). */
  async askDevicePermission({ audio = false, video = false } = {}) {
    const access = { audio: audio && await canOpen({ audio: true }), video: video && await canOpen({ video: true }) };
    await this.#devicesChanged(); // labels appear once permission is given
    return access;
  }

  async getCameras() {
    return (await devicesOf('videoinput')).map((d) => ({ id: d.deviceId, name: d.label, deviceType: 'Unknown' }));
  }

  async getMicrophones() {
    return (await devicesOf('audioinput')).map((d) => audioDeviceInfo(d, 'Microphone'));
  }

  async getSpeakers() {
    return (await devicesOf('audiooutput')).map((d) => audioDeviceInfo(d, 'Speaker'));
  }

  async selectMicrophone(microphone) {
    if (microphone?.deviceType !== 'Microphone') throw new TypeError('selectMicrophone takes one of getMicrophones().');
    if (this.selectedMicrophone?.id === microphone.id) return;
    this.selectedMicrophone = microphone;
    this._emit('selectedMicrophoneChanged');
  }

  /** Where the calls' audio plays, now and for later calls (`selectedSpeakerChanged`). */
  async selectSpeaker(speaker) {
    if (speaker?.deviceType !== 'Speaker') throw new TypeError('selectSpeaker takes one of getSpeakers().');
    if (!this.isSpeakerSelectionAvailable) {
      throw new CallingError(400, 0, 'This browser cannot choose where audio plays (no setSinkId).');
    }
    if (this.selectedSpeaker?.id === speaker.id) return;
    this.selectedSpeaker = speaker;
    this._emit('selectedSpeakerChanged');
  }

  async #devicesChanged() {
    const now = { audio: [...await this.getMicrophones(), ...await this.getSpeakers()], video: await this.getCameras() };
    const before = this.#known;
    this.#known = now;
    if (!before) return;
    for (const [kind, event] of [['audio', 'audioDevicesUpdated'], ['video', 'videoDevicesUpdated']]) {
      const same = (d) => (other) => byId(d, other) && d.deviceType === other.deviceType;
      const added = now[kind].filter((d) => !before[kind].some(same(d)));
      const removed = before[kind].filter((d) => !now[kind].some(same(d)));
      if (added.length || removed.length) this._emit(event, { added, removed });
    }
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

function audioDeviceInfo(device, deviceType) {
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
  #devices;
  #speakerChanged;

  /** Opens the selected microphone (or the default one) and plays the other side on the selected speaker. */
  static async open(iceServers, devices) {
    const microphone = devices.selectedMicrophone;
    const audio = microphone ? { deviceId: { exact: microphone.id } } : true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    } catch (error) {
      const { code, subCode } = MEDIA_SETUP_FAILED;
      throw new CallingError(code, subCode, `The microphone could not be opened (${error.name}).`);
    }
    return new MediaSession(stream, iceServers, devices);
  }

  constructor(stream, iceServers, devices) {
    this.stream = stream;
    this.iceServers = iceServers;
    this.track = stream.getAudioTracks()[0];
    this.pc = new RTCPeerConnection({ iceServers });
    this.pc.addTrack(this.track, stream);
    this.player = new Audio();
    this.player.autoplay = true;
    this.pc.ontrack = (event) => this.#play(event);
    this.pc.onicecandidate = (event) => this.#foundCandidate(event.candidate);
    this.#devices = devices;
    this.#speakerChanged = () => this.#useSpeaker();
    devices.on('selectedSpeakerChanged', this.#speakerChanged);
    this.#useSpeaker();
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

  /** The other side's audio off or on here (ACS's muteIncomingAudio); what is sent does not change. */
  hearAudio(on) {
    this.player.muted = !on;
  }

  getStats() {
    return this.pc.getStats();
  }

  /** A new peer connection on the same microphone (a meeting's next media session). */
  successor() {
    return new MediaSession(this.stream, this.iceServers, this.#devices);
  }

  /** Ends the peer connection, and the microphone unless a successor goes on with it. */
  close({ keepMicrophone = false } = {}) {
    if (this.#closed) return;
    this.#closed = true;
    this.#devices.off('selectedSpeakerChanged', this.#speakerChanged);
    this.pc.close();
    if (!keepMicrophone) this.stream.getTracks().forEach((track) => track.stop());
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

  #useSpeaker() {
    const speaker = this.#devices.selectedSpeaker;
    if (speaker && this.player.setSinkId) this.player.setSinkId(speaker.id).catch(warn);
  }

  #play(event) {
    this.player.srcObject = event.streams[0] ?? new MediaStream([event.track]);
    this.player.play().catch(() => {}); // no speaker, or autoplay refused: the call goes on
  }
}

// -- call features (ACS's `call.feature(Features.X)`) -------------------------------------------------------------

/** What every feature object has (ACS's BaseFeature): its `name`, `dispose()`, `on`/`off`. */
class CallFeatureBase extends Emitter {
  constructor(name, context) {
    super();
    this.name = name;
    this._call = context.call;
  }

  dispose() {
    this._forgetHandlers();
  }

  /** A frame of the service about this feature (the call hands each feature every frame it does not own). */
  _onFrame(frame) {} // eslint-disable-line class-methods-use-this, no-unused-vars
}

/**
 * `Features.DominantSpeakers`: who spoke last, the most recent first, from the mixer's talking events
 * (`call.dominantSpeakers`) in meetings and group calls; a 1:1 call has none (as ACS's).
 */
class DominantSpeakersCallFeature extends CallFeatureBase {
  constructor(context) {
    super('DominantSpeakers', context);
    this.dominantSpeakers = Object.freeze({ speakersList: Object.freeze([]), timestamp: new Date() });
  }

  _onFrame(frame) {
    if (frame.type !== 'call.dominantSpeakers') return;
    this.dominantSpeakers = Object.freeze({
      speakersList: Object.freeze(frame.speakers.map((speaker) => createIdentifierFromRawId(speaker.rawId))),
      timestamp: new Date(frame.timestamp),
    });
    this._emit('dominantSpeakersChanged');
  }
}

/**
 * `Features.RaiseHand`: hands raised in a meeting or group call (`raisedHandEvent` / `loweredHandEvent` with
 * `{identifier}`). In a 1:1 call the service refuses raising a hand (a CallingError).
 */
class RaiseHandCallFeature extends CallFeatureBase {
  #raised = new Map(); // participant id -> {identifier, order}

  constructor(context) {
    super('RaiseHand', context);
  }

  getRaisedHands() {
    return [...this.#raised.values()].sort((a, b) => a.order - b.order);
  }

  raiseHand() {
    return this._call._send('call.raiseHand');
  }

  lowerHand() {
    return this._call._send('call.lowerHand');
  }

  /** Lowers the hands of these participants (organizers and presenters: others are refused). */
  async lowerHands(identifiers) {
    for (const identifier of identifiers) {
      const participant = this._call._participantOf(identifier);
      if (participant) await this._call._send('call.lowerHand', { participantId: participant._participantId });
    }
  }

  lowerAllHands() {
    return this._call._send('call.lowerAllHands');
  }

  _onFrame(frame) {
    if (frame.type !== 'call.raisedHand' && frame.type !== 'call.loweredHand') return;
    const identifier = createIdentifierFromRawId(frame.identifier.rawId);
    if (frame.type === 'call.raisedHand') {
      this.#raised.set(frame.participantId, { identifier, order: frame.order });
      this._emit('raisedHandEvent', { identifier });
    } else {
      this.#raised.delete(frame.participantId);
      this._emit('loweredHandEvent', { identifier });
    }
  }
}

/** What a participant of a callbridge 1:1 audio call can do, and why not (ACS's reasons). */
function capabilitiesOfOneToOneCall() {
  const can = { isPresent: true, reason: 'Capable' };
  const unsupported = { isPresent: false, reason: 'FeatureNotSupported' };
  const notForThisCall = { isPresent: false, reason: 'CapabilityNotApplicableForTheCallType' };
  return Object.freeze({
    unmuteMic: can,
    turnVideoOn: unsupported,
    shareScreen: unsupported,
    blurBackground: unsupported,
    addTeamsUser: can,
    addPhoneNumber: can,
    addCommunicationUser: unsupported,
    removeParticipant: can,
    useReactions: unsupported,
    startLiveCallingCaptions: unsupported,
    realTimeText: unsupported,
    raiseHand: notForThisCall,
    hangUpForEveryOne: notForThisCall,
    manageLobby: notForThisCall,
    muteOthers: notForThisCall,
    spotlightParticipant: notForThisCall,
  });
}

/**
 * `Features.Capabilities`: what this participant may do in this call. A meeting's come from the service with the
 * participant's role (`call.capabilities`), and change with it: `capabilitiesChanged` ({oldValue, newValue, reason},
 * only the capabilities that changed).
 */
class CapabilitiesFeature extends CallFeatureBase {
  constructor(context) {
    super('Capabilities', context);
    this.capabilities = capabilitiesOfOneToOneCall();
  }

  _onFrame(frame) {
    if (frame.type !== 'call.capabilities') return;
    const old = this.capabilities;
    this.capabilities = Object.freeze({ ...old, ...frame.capabilities });
    const same = (a, b) => a?.isPresent === b?.isPresent && a?.reason === b?.reason;
    const changed = Object.keys(this.capabilities).filter((name) => !same(old[name], this.capabilities[name]));
    if (!changed.length) return;
    const pick = (from) => Object.fromEntries(changed.filter((name) => from[name]).map((name) => [name, from[name]]));
    this._emit('capabilitiesChanged', { oldValue: pick(old), newValue: pick(this.capabilities),
      reason: frame.reason ?? 'RoleChanged' });
  }
}

/** `Features.TeamsMeetingAudioConferencing`: the meeting's dial-in number and conference id. */
class TeamsMeetingAudioConferencingCallFeature extends CallFeatureBase {
  constructor(context) {
    super('TeamsMeetingAudioConferencing', context);
  }

  /** `{phoneConferenceId, phoneNumbers: [{tollPhoneNumber: {phoneNumber}}]}`; a call that is no meeting is refused. */
  async getTeamsMeetingAudioConferencingDetails() {
    const frame = await this._call._ask('call.audioConferencing', 'call.audioConferencing');
    return {
      phoneConferenceId: frame.phoneConferenceId,
      phoneNumbers: frame.phoneNumbers.map((number) => ({
        ...number,
        tollPhoneNumber: number.tollPhoneNumber && { ...number.tollPhoneNumber,
          rawId: `4:${number.tollPhoneNumber.phoneNumber}` },
      })),
    };
  }
}

/** The features callbridge provides: `call.feature(Features.X)` makes one per call and keeps it. */
export const Features = Object.freeze({
  DominantSpeakers: Object.freeze({ callApiCtor: DominantSpeakersCallFeature }),
  RaiseHand: Object.freeze({ callApiCtor: RaiseHandCallFeature }),
  Capabilities: Object.freeze({ callApiCtor: CapabilitiesFeature }),
  TeamsMeetingAudioConferencing: Object.freeze({ callApiCtor: TeamsMeetingAudioConferencingCallFeature }),
});

/**
 * `call.lobby` (ACS's Lobby): the participants waiting in a meeting's lobby, and (organizers, co-organizers and
 * presenters) letting them in or not. Event: `lobbyParticipantsUpdated` ({added, removed}). `admit` and `reject`
 * take the participant's identifier (or the RemoteParticipant) and resolve once the participant has left the
 * lobby, or reject with the service's refusal (403/10130 for an attendee).
 */
class Lobby extends Emitter {
  #call;

  constructor(call) {
    super();
    this.#call = call;
  }

  get participants() {
    return this.#call.remoteParticipants.filter((participant) => participant.state === 'InLobby');
  }

  admit(identifier) {
    return this.#decide('call.lobby.admit', identifier);
  }

  reject(identifier) {
    return this.#decide('call.lobby.reject', identifier);
  }

  /** `{successCount, failureCount}`: of those waiting when asked, how many were let in. */
  async admitAll() {
    const waiting = this.participants;
    await this.#call._checked('call.lobby.admitAll', {}, () => !this.participants.length);
    const admitted = waiting.filter((participant) => participant.state !== 'InLobby').length;
    return { successCount: admitted, failureCount: waiting.length - admitted };
  }

  #decide(type, identifier) {
    const participant = this.participants.find((p) => p === identifier || sameIdentity(p, identifier));
    if (!participant) return Promise.reject(new CallingError(404, 0, 'Nobody with that identifier waits in the lobby.'));
    return this.#call._checked(type, { participantId: participant._participantId },
      () => participant.state !== 'InLobby');
  }
}

/** Whether the participant is the identity an identifier (or another participant) names. */
function sameIdentity(participant, identifier) {
  const wanted = identifier?.identifier ?? identifier;
  try {
    return getIdentifierRawId(participant.identifier) === getIdentifierRawId(wanted);
  } catch {
    return false;
  }
}

// -- calls ---------------------------------------------------------------------------------------------------

/**
 * Another participant of a call (ACS's RemoteParticipant). Events: `stateChanged`, `isMutedChanged`,
 * `displayNameChanged`, `roleChanged`, `isSpeakingChanged`. `endpointDetails[0].participantId` is the service's id
 * of this participant in the call (one identity may take part from two endpoints). `videoStreams` stays empty.
 */
class RemoteParticipant extends Emitter {
  #call = null;

  constructor(identifier, displayName, state) {
    super();
    this.identifier = identifier;
    this.displayName = displayName;
    this.state = state;
    this.isMuted = false;
    this.isSpeaking = false;
    this.role = 'Unknown';
    this.videoStreams = [];
    this.endpointDetails = [];
    this.callEndReason = undefined;
  }

  _in(call) {
    this.#call = call;
  }

  get _participantId() {
    return this.endpointDetails[0]?.participantId ?? '';
  }

  /** Mutes this participant for everyone (meetings: organizers, co-organizers and presenters); resolves once done. */
  mute() {
    if (!this.#call) return Promise.reject(new CallingError(400, 0, 'This participant is not in a call.'));
    return this.#call._checked('call.muteParticipant', { participantId: this._participantId }, () => this.isMuted);
  }

  _named(participantId) {
    if (participantId && this._participantId !== participantId) this.endpointDetails = [{ participantId }];
  }

  _update(participant) {
    this._named(participant.participantId);
    this.#change('displayName', participant.displayName ?? this.displayName, 'displayNameChanged');
    this.#change('role', participant.role ?? this.role, 'roleChanged');
    this.#change('isSpeaking', Boolean(participant.isSpeaking), 'isSpeakingChanged');
    this.#change('isMuted', Boolean(participant.isMuted), 'isMutedChanged');
    if (participant.state === 'Disconnected') this.callEndReason ??= { ...HUNG_UP };
    this.#change('state', participant.state, 'stateChanged');
  }

  _ended(reason) {
    this.callEndReason = { code: reason.code, subCode: reason.subCode };
    this.#change('state', 'Disconnected', 'stateChanged');
  }

  #change(field, value, event) {
    if (this[field] === value) return;
    this[field] = value;
    this._emit(event);
  }
}

/**
 * ACS's TeamsCallInfo: the chat `threadId`, this endpoint's `participantId` (callbridge: its agent id), and the
 * service's id of the call (`getServerCallId()`, once the service has named it).
 */
class TeamsCallInfo {
  #serverCallId = deferred(0);
  #handlers = new Set();

  constructor(threadId, participantId) {
    this.threadId = threadId;
    this.participantId = participantId;
  }

  getServerCallId() {
    return this.#serverCallId.promise;
  }

  onCallInfoChanged(event, listener) {
    if (event === 'callInfoChanged') this.#handlers.add(listener);
  }

  offCallInfoChanged(event, listener) {
    this.#handlers.delete(listener);
  }

  _named(callId) {
    this.#serverCallId.resolve(callId);
    this.#handlers.forEach((handler) => handler());
  }

  _ended(reason) {
    this.#serverCallId.reject(new CallingError(reason.code, reason.subCode ?? 0, 'The call ended before the service named it.'));
  }
}

/**
 * A call of this agent (`kind` 'TeamsCall', or 'Call' from a CallAgent). `state` follows the service's
 * `call.state` frames. Events: `stateChanged`, `idChanged`, `remoteParticipantsUpdated` ({added, removed}),
 * `isMutedChanged`, `isIncomingAudioMutedChanged`, `roleChanged`, `mutedByOthers`, and callbridge's own
 * `dtmfReceived` ({tone}).
 *
 * A meeting or group call's audio goes through the service's mixer: each `call.sdp` with a `mediaSession` is the
 * mixer's offer of a new media session, answered on a new RTCPeerConnection (the same microphone track; the answer
 * carries all our ICE candidates, as the mixer takes none trickled), and the previous connection is dropped.
 */
class TeamsCall extends Emitter {
  kind = CallKind.TeamsCall;
  #agent;
  #media = null;
  #mediaSteps = Promise.resolve();
  #named = false;
  #features = new Map();
  #waiters = new Set();
  #checks = new Set(); // commands waiting for their effect: {done, waiter}

  constructor(agent, { id, direction, callerInfo, remote, threadId, kind }) {
    super();
    if (kind) this.kind = kind;
    this.id = id;
    this.direction = direction;
    this.callerInfo = callerInfo;
    this.transferorInfo = undefined;
    this.info = new TeamsCallInfo(threadId, agent.agentId);
    this.state = 'None';
    this.callEndReason = undefined;
    this.isMuted = false;
    this.isIncomingAudioMuted = false;
    this.isScreenSharingOn = false;
    this.isLocalVideoStarted = false;
    this.localVideoStreams = [];
    this.remoteParticipants = remote ? [remote] : [];
    remote?._in(this);
    this.role = 'Unknown';
    this.lobby = new Lobby(this);
    this.#agent = agent;
    for (const factory of Object.values(Features)) this.feature(factory); // they see the call's frames from its start
  }

  async mute() {
    this.#setMuted(true);
    if (this.#named) await this.#command('call.mute');
  }

  async unmute() {
    this.#setMuted(false);
    if (this.#named) await this.#command('call.unmute');
  }

  /** The other side's audio off here (nothing is sent): `isIncomingAudioMutedChanged`. */
  async muteIncomingAudio() {
    this.#setIncomingMuted(true);
  }

  async unmuteIncomingAudio() {
    this.#setIncomingMuted(false);
  }

  async hold() {
    this.#mustBeNamed('held');
    await this.#command('call.hold');
    await this._until((state) => state === 'LocalHold');
  }

  async resume() {
    this.#mustBeNamed('resumed');
    await this.#command('call.resume');
    await this._until((state) => state === 'Connected' || state === 'RemoteHold');
  }

  /**
   * Leaves the call; `{forEveryone: true}` ends it for every participant (a meeting's organizer; 0/4097 for the
   * others). Before the service has named the call, the call ends here at once (0/0) and the agent cancels it when
   * the name comes.
   */
  async hangUp(options = {}) {
    if (this.state === 'Disconnected') return;
    if (!this.#named) {
      this._end(HUNG_UP);
      return;
    }
    await this.#command('call.hangUp', options?.forEveryone ? { forEveryone: true } : {});
    await this._until((state) => state === 'Disconnected');
  }

  /** A tone by ACS's name (`Num0`..`Num9`, `Star`, `Pound`, `A`..`D`, `Flash`) or as sent (`0`, `*`, `#`). */
  async sendDtmf(dtmfTone) {
    this.#mustBeNamed('sent tones', 'DTMF needs a connected call.');
    await this.#command('call.dtmf', { tone: DTMF_TONES[dtmfTone] ?? dtmfTone });
  }

  /**
   * Brings a Teams user (with the chat `threadId` they share with us) or a phone number into the call, which
   * becomes a group call; returns the participant at once (as ACS's), `Connecting`, in `remoteParticipants`. Its
   * state follows as it is reached; a refusal ends it (`Disconnected` with `callEndReason`) and removes it.
   */
  addParticipant(participant, options = {}) {
    const rawId = getIdentifierRawId(participant); // not an identifier: a TypeError, as for startCall
    this.#mustBeNamed('joined by others', 'People are added to a call the service has started.');
    const remote = new RemoteParticipant(createIdentifierFromRawId(rawId), undefined, 'Connecting');
    remote._in(this);
    this.remoteParticipants.push(remote);
    this._emit('remoteParticipantsUpdated', { added: [remote], removed: [] });
    const requestId = randomId();
    const settled = (frame) => {
      this.#agent._unexpect(requestId);
      if (frame.type === 'call.participantAdded') remote._named(frame.participantId);
      else this.#drop(remote, endReasonOf(errorFromFrame(frame)));
    };
    this.#agent._expect(requestId, settled);
    const threadId = options?.threadId;
    this.#command('call.addParticipant', { requestId, target: { rawId }, ...(threadId ? { threadId } : {}) })
      .catch((error) => {
        this.#agent._unexpect(requestId);
        this.#drop(remote, endReasonOf(error));
      });
    return remote;
  }

  /** Removes a participant (by identifier, or the RemoteParticipant): it ends 0/5300; resolves once it has gone. */
  async removeParticipant(participant) {
    if (!(participant instanceof RemoteParticipant)) getIdentifierRawId(participant);
    const remote = this.remoteParticipants.find((p) => p.state !== 'Disconnected'
      && (p === participant || sameIdentity(p, participant)));
    if (!remote) throw new CallingError(404, 0, 'Nobody with that identifier is in the call.');
    await this._checked('call.removeParticipant', { participantId: remote._participantId },
      () => remote.state === 'Disconnected' || !this.remoteParticipants.includes(remote));
  }

  /** Mutes everyone else (meetings: organizers, co-organizers and presenters). */
  muteAllRemoteParticipants() {
    return this._send('call.muteAll');
  }

  /** `call.feature(Features.Capabilities)` and the like: one object per feature and call. */
  feature(factory) {
    const Feature = factory?.callApiCtor;
    if (typeof Feature !== 'function') throw new TypeError('Not a call feature of this SDK (see Features).');
    if (!this.#features.has(Feature)) this.#features.set(Feature, new Feature({ callAgent: this.#agent, call: this }));
    return this.#features.get(Feature);
  }

  /** The call's listeners and its features' go (ACS's Disposable); the call itself goes on. */
  dispose() {
    this.#features.forEach((feature) => feature.dispose());
    this.lobby._forgetHandlers();
    this._forgetHandlers();
  }

  /** callbridge's own: the RTCStatsReport of the call's peer connection (empty before it has one). */
  async getStats() {
    return this.#media ? this.#media.getStats() : new Map();
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

  /** A command of this call; an `error` frame about it rejects (the ping/pong rule). */
  _send(type, fields = {}) {
    if (!this.#named) return Promise.reject(new CallingError(400, 41008, 'The call has not started yet.'));
    return this.#command(type, fields);
  }

  /**
   * A command that resolves once `done()` holds (its effect reached this call, as the Python SDK's), or rejects
   * with the service's refusal of it (the error frame echoing its `requestId`).
   */
  async _checked(type, fields, done) {
    if (!this.#named) throw new CallingError(400, 41008, 'The call has not started yet.');
    const requestId = randomId();
    const check = { done, waiter: deferred(ANSWER_TIMEOUT_MS, timedOut(type)) };
    this.#checks.add(check);
    this.#agent._expect(requestId, (frame) => check.waiter.reject(errorFromFrame(frame)));
    try {
      await this.#command(type, { requestId, ...fields });
      if (done()) check.waiter.resolve();
      await check.waiter.promise;
    } finally {
      this.#checks.delete(check);
      this.#agent._unexpect(requestId);
    }
  }

  /** A request answered by a frame of type `answer` echoing its `requestId` (or refused by an error that does). */
  async _ask(type, answer) {
    if (!this.#named) throw new CallingError(400, 41008, 'The call has not started yet.');
    const requestId = randomId();
    const asked = deferred(ANSWER_TIMEOUT_MS, timedOut(type));
    this.#agent._expect(requestId, (frame) => (frame.type === answer ? asked.resolve(frame)
      : asked.reject(errorFromFrame(frame))));
    try {
      await this.#command(type, { requestId });
      return await asked.promise;
    } finally {
      this.#agent._unexpect(requestId);
    }
  }

  /** The participant an identifier (or a RemoteParticipant) names, if in the call. */
  _participantOf(identifier) {
    return this.remoteParticipants.find((p) => p === identifier || sameIdentity(p, identifier));
  }

  /** The media of the call; later ICE candidates go to the service once it has named the call. */
  _attach(media) {
    this.#media = media;
    media.hearAudio(!this.isIncomingAudioMuted);
    media.sendAudio(!HELD_STATES.has(this.state) && !this.isMuted);
    if (this.#named) media.signalWith((candidate) => this.#relay('call.ice', { candidate }));
  }

  /** The service's id for the call: `idChanged`, then what was asked before it (mute) goes out. */
  _named(callId) {
    this.#named = true;
    const changed = this.id !== callId;
    this.id = callId;
    this.#media?.signalWith((candidate) => this.#relay('call.ice', { candidate }));
    this.info._named(callId);
    if (changed) this._emit('idChanged');
    if (this.isMuted) this.#relay('call.mute', {});
  }

  _setState(state) {
    if (this.state === state || this.state === 'Disconnected') return;
    this.state = state;
    this._emit('stateChanged');
    this.#settleWaiters();
  }

  _onFrame(frame) {
    switch (frame.type) {
      case 'call.state': this.#onState(frame); break;
      case 'call.participant': this.#onParticipant(frame.participant); break;
      case 'call.sdp': this.#onSdp(frame); break;
      case 'call.ice': if (frame.candidate) this.#media?.remoteCandidate(frame.candidate).catch(warn); break;
      case 'call.dtmf': this._emit('dtmfReceived', { tone: frame.tone }); break;
      case 'call.role': this.#setRole(frame.role); break;
      case 'call.mutedByOthers':
        this.#setMuted(true);
        this._emit('mutedByOthers');
        break;
      default: this.#features.forEach((feature) => feature._onFrame(frame));
    }
    this.#settleChecks();
  }

  /**
   * The call is over: `reason` from the service, a refusal, or the lost socket's. `callEndReason` is ACS's
   * `{code, subCode}`, with callbridge's `message` when the call never started because something refused it.
   */
  _end(reason) {
    if (this.state === 'Disconnected') return;
    this.state = 'Disconnected';
    this.callEndReason = { code: reason.code, subCode: reason.subCode ?? 0 };
    if (reason.message) this.callEndReason.message = reason.message;
    this.#media?.close();
    if (!this.#named) this.info._ended(this.callEndReason);
    const removed = this.remoteParticipants.splice(0);
    const waiting = removed.filter((participant) => participant.state === 'InLobby');
    removed.forEach((participant) => participant._ended(this.callEndReason));
    this._emit('stateChanged');
    if (removed.length) this._emit('remoteParticipantsUpdated', { added: [], removed });
    if (waiting.length) this.lobby._emit('lobbyParticipantsUpdated', { added: [], removed: waiting });
    this.#settleWaiters();
    this.#settleChecks();
    this.#agent._forget(this);
  }

  #onState(frame) {
    if (this.state === 'Disconnected') return;
    if (frame.state === 'Disconnected') return this._end(frame.endReason ?? HUNG_UP);
    this.#media?.sendAudio(!HELD_STATES.has(frame.state) && !this.isMuted);
    this._setState(frame.state);
    return undefined;
  }

  /**
   * A participant came, changed or left (ACS's `remoteParticipantsUpdated` {added, removed}; the lobby's
   * `lobbyParticipantsUpdated` when it entered or left the lobby). The other party of a 1:1 call stays in the list
   * when it goes, as ACS's does.
   */
  #onParticipant(wire) {
    let remote = this.remoteParticipants.find((p) => (p._participantId && p._participantId === wire.participantId)
      || (!p._participantId && getIdentifierRawId(p.identifier) === wire.rawId));
    const added = [];
    if (!remote) {
      if (wire.state === 'Disconnected') return;
      remote = new RemoteParticipant(createIdentifierFromRawId(wire.rawId), wire.displayName ?? undefined, wire.state);
      remote._in(this);
      this.remoteParticipants.push(remote);
      added.push(remote);
    }
    const wasWaiting = remote.state === 'InLobby' && !added.length;
    remote._update(wire);
    const removed = [];
    if (remote.state === 'Disconnected' && this.remoteParticipants.length > 1) {
      this.remoteParticipants.splice(this.remoteParticipants.indexOf(remote), 1);
      removed.push(remote);
    }
    if (added.length || removed.length) this._emit('remoteParticipantsUpdated', { added, removed });
    const waiting = remote.state === 'InLobby';
    if (waiting !== wasWaiting) {
      this.lobby._emit('lobbyParticipantsUpdated', waiting ? { added: [remote], removed: [] }
        : { added: [], removed: [remote] });
    }
  }

  /** A participant this call tried to add and could not: it ends with the refusal, and leaves the list. */
  #drop(remote, reason) {
    remote._ended(reason);
    const index = this.remoteParticipants.indexOf(remote);
    if (index < 0) return;
    this.remoteParticipants.splice(index, 1);
    this._emit('remoteParticipantsUpdated', { added: [], removed: [remote] });
  }

  #onSdp(frame) {
    const work = frame.mediaSession != null ? () => this.#newMediaSession(frame.sdp) : async () => {
      const answer = await this.#media.remoteSdp(frame.sdp);
      if (answer) this.#relay('call.sdp', { sdp: answer });
    };
    this.#mediaSteps = this.#mediaSteps.then(work).catch(warn);
  }

  /** The mixer's offer: answered on a new peer connection (same microphone), sent, and the old one dropped. */
  async #newMediaSession(offer) {
    if (!this.#media || this.state === 'Disconnected') return;
    const old = this.#media;
    const media = old.successor();
    this.#media = media;
    old.close({ keepMicrophone: true });
    media.hearAudio(!this.isIncomingAudioMuted);
    media.sendAudio(!HELD_STATES.has(this.state) && !this.isMuted);
    const answer = await media.answer(offer); // waits for ICE gathering: the mixer takes no trickled candidates
    if (this.#media === media && this.state !== 'Disconnected') this.#relay('call.sdp', { sdp: answer });
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

  #settleChecks() {
    for (const { done, waiter } of this.#checks) {
      if (done()) waiter.resolve();
      else if (this.state === 'Disconnected') {
        const { code, subCode } = this.callEndReason;
        waiter.reject(new CallingError(code, subCode, `The call ended (${code}/${subCode}).`));
      }
    }
  }

  #setRole(role) {
    if (this.role === role) return;
    this.role = role;
    this._emit('roleChanged');
  }

  #setMuted(muted) {
    if (this.isMuted === muted) return;
    this.isMuted = muted;
    this.#media?.sendAudio(!HELD_STATES.has(this.state) && !muted);
    this._emit('isMutedChanged');
  }

  #setIncomingMuted(muted) {
    if (this.isIncomingAudioMuted === muted) return;
    this.isIncomingAudioMuted = muted;
    this.#media?.hearAudio(!muted);
    this._emit('isIncomingAudioMutedChanged');
  }

  /** Hold, resume and DTMF need a call the service knows and has answered: before that, the service's refusal. */
  #mustBeNamed(what, message = `The call is not in a state to be ${what}.`) {
    if (!this.#named) throw new CallingError(400, 41008, message);
  }

  #command(type, fields = {}) {
    return this.#agent._command({ type, callId: this.id, ...fields });
  }

  #relay(type, fields) {
    this.#command(type, fields).catch(warn);
  }
}

/** A call ringing on this agent (`kind` 'TeamsIncomingCall'). Event: `callEnded` ({callEndReason}). */
class TeamsIncomingCall extends Emitter {
  kind = IncomingCallKind.TeamsIncomingCall;
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
    this.transferorInfo = undefined;
    this.info = new TeamsCallInfo(frame.threadId, agent.agentId);
    this.info._named(frame.callId);
    this.callEndReason = undefined;
    this.#agent = agent;
    this.#offer = frame.sdp;
  }

  /** Takes the call; resolves with the TeamsCall once it is Connected (`{audioOptions: {muted}}` as ACS's). */
  async accept(options = {}) {
    if (this.#done) throw new CallingError(400, 41006, 'The call is no longer ringing.');
    this.#done = true;
    return this.#agent._accept(this, this.#offer, this.#candidates, Boolean(options?.audioOptions?.muted));
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

/** `{meetingLink}` or `{meetingId, passcode?}` (ACS's TeamsMeetingLinkLocator and TeamsMeetingIdLocator). */
function checkMeetingLocator(locator) {
  if (typeof locator?.meetingLink === 'string' && locator.meetingLink) return;
  if (typeof locator?.meetingId === 'string' && locator.meetingId) return;
  throw new TypeError('join takes a TeamsMeetingLinkLocator {meetingLink} or a TeamsMeetingIdLocator {meetingId, passcode}.');
}

/**
 * A Teams user's endpoint (`kind` 'TeamsCallAgent'). Events: `incomingCall` ({incomingCall}), `callsUpdated`
 * ({added, removed}), `connectionStateChanged` ({oldValue, newValue, reason}: ACS's 'invalidToken' when the
 * service closed the socket over its token, else 'connectionIssue'; none when the agent was disposed).
 */
class TeamsCallAgent extends Emitter {
  kind = CallAgentKind.TeamsCallAgent;
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
  #starting = new Map(); // requestId -> {call, named}: calls placed that the service has not named yet
  #requests = new Map(); // requestId -> what takes the frame answering (or refusing) a call's request
  #calls = new Set();
  #byId = new Map();
  #incoming = new Map();
  #renewTimer = null;
  #disposed = false;

  constructor(url, credential, deviceManager, onDisposed, options = {}) {
    super();
    this._displayName = options.displayName;
    this.#url = url;
    this.#credential = credential;
    this.#deviceManager = deviceManager;
    this.#onDisposed = onDisposed;
  }

  /** The calls that have not ended. */
  get calls() {
    return [...this.#calls];
  }

  async _connect() {
    this.#token = await tokenOf(this.#credential);
    this.#welcome = deferred(WELCOME_TIMEOUT_MS, timedOut('welcome'));
    const ws = new WebSocket(this.#url);
    this.#ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', version: PROTOCOL_VERSION, token: this.#token,
      client: 'browser' }));
    ws.onmessage = (event) => this.#onMessage(event);
    ws.onclose = (event) => this.#onClose(event);
    try {
      this.#onWelcome(await this.#welcome.promise);
    } catch (error) {
      ws.close();
      throw error;
    }
  }

  /**
   * Calls a Teams user (`{microsoftTeamsUserId}`) over the chat `threadId` they share with us, or a phone number
   * (`{phoneNumber}`), and returns the call at once (state `None`, then `Connecting`). One participant, alone or
   * in an array. A refusal ends the call: `Disconnected` with `callEndReason` (400/10101 without a chat, ...).
   */
  startCall(participants, options = {}) {
    const target = Array.isArray(participants) ? onlyOne(participants) : participants;
    const rawId = getIdentifierRawId(target);
    const call = this.#newCall(new RemoteParticipant(createIdentifierFromRawId(rawId), undefined, 'Connecting'),
      options?.threadId);
    this.#add(call);
    if (options?.audioOptions?.muted) call.mute().catch(warn); // sent once the service has named the call
    this.#place(call, { type: 'call.start', target: { rawId }, threadId: options?.threadId });
    return call;
  }

  /**
   * Joins a Teams meeting by its link (`{meetingLink}`) or its id and passcode (`{meetingId, passcode}`), and
   * returns the call at once (state `None`, then `Connecting`, then `InLobby` while the lobby holds it, or
   * `Connected`). A refusal ends it: `Disconnected` with `callEndReason` (404/10122 a wrong passcode, 403/5223 a
   * tenant that does not federate...). A CallAgent's `displayName` is the name others see (a guest's).
   */
  join(meetingLocator, options = {}) {
    checkMeetingLocator(meetingLocator);
    const call = this.#newCall(null, undefined);
    this.#add(call);
    if (options?.audioOptions?.muted) call.mute().catch(warn); // sent once the service has named the call
    const where = typeof meetingLocator.meetingLink === 'string' ? { meetingLink: meetingLocator.meetingLink }
      : { meetingId: meetingLocator.meetingId,
        ...(meetingLocator.passcode ? { passcode: meetingLocator.passcode } : {}) };
    const displayName = this._displayName ? { displayName: this._displayName } : {};
    this.#place(call, { type: 'call.join', ...where, ...displayName }, { offer: false });
    return call;
  }

  /** What a call's request expects back (an answer or a refusal echoing `requestId`) goes to `take`. */
  _expect(requestId, take) {
    this.#requests.set(requestId, take);
  }

  _unexpect(requestId) {
    this.#requests.delete(requestId);
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

  async _accept(incoming, offer, candidates, muted) {
    const media = await MediaSession.open(this.#iceServers, this.#deviceManager);
    const { callerInfo } = incoming;
    const call = new TeamsCall(this, {
      id: incoming.id, direction: 'Incoming', threadId: incoming.info.threadId, callerInfo, kind: this._callKind,
      remote: new RemoteParticipant(callerInfo.identifier, callerInfo.displayName, 'Connected'),
    });
    call._named(incoming.id);
    call._attach(media);
    this.#byId.set(call.id, call); // from here the call's frames reach it
    try {
      candidates.forEach((candidate) => media.remoteCandidate(candidate).catch(warn));
      const sdp = offer ? await media.answer(offer) : undefined;
      await this._command({ type: 'call.accept', callId: call.id, ...(sdp ? { sdp } : {}) });
      if (muted) await call.mute();
    } catch (error) {
      this.#byId.delete(call.id);
      media.close();
      throw error;
    }
    this.#incoming.delete(call.id);
    if (call.state !== 'Disconnected') this.#add(call);
    await call._until((state) => state === 'Connected');
    return call;
  }

  _forget(call) {
    if (this.#byId.get(call.id) === call) this.#byId.delete(call.id);
    if (!this.#calls.delete(call)) return;
    this._emit('callsUpdated', { added: [], removed: [call] });
  }

  /** The kind of the calls this agent makes ('TeamsCall'; a CallAgent's are 'Call'). */
  get _callKind() {
    return CallKind.TeamsCall;
  }

  #newCall(remote, threadId) {
    return new TeamsCall(this, {
      id: `local-${randomId()}`, direction: 'Outgoing', threadId, kind: this._callKind, remote,
      callerInfo: { identifier: this.identity ? createIdentifierFromRawId(this.identity) : undefined,
        displayName: this._displayName },
    });
  }

  #add(call) {
    this.#calls.add(call);
    this._emit('callsUpdated', { added: [call], removed: [] });
  }

  /**
   * Opens the microphone, makes the offer and sends `frame` (`call.start` and its fields) with a `requestId` and
   * the offer (a `call.join` goes without one: the mixer offers); the service's `call.started` with that
   * `requestId` names the call. Any failure ends the call with its reason.
   */
  async #place(call, frame, { offer = true } = {}) {
    await null; // the caller has the call and its listeners before anything happens
    call._setState('Connecting');
    const requestId = randomId();
    try {
      if (this.connectionState !== 'Connected') {
        throw new CallingError(503, 0, 'The agent is not connected to the calling service.');
      }
      const media = await MediaSession.open(this.#iceServers, this.#deviceManager);
      if (call.state === 'Disconnected') return media.close(); // hung up meanwhile
      call._attach(media);
      const sdp = offer ? await media.offer() : undefined;
      if (call.state === 'Disconnected') return undefined;
      const named = deferred(ANSWER_TIMEOUT_MS, timedOut(frame.type));
      this.#starting.set(requestId, { call, named });
      await this._command({ ...frame, requestId, ...(sdp ? { sdp } : {}) });
      await named.promise;
    } catch (error) {
      call._end(endReasonOf(error));
    } finally {
      this.#starting.delete(requestId);
    }
    return undefined;
  }

  /** `call.started`: the call has the service's id from here; one hung up meanwhile is cancelled. */
  #onStarted(frame) {
    const starting = this.#starting.get(frame.requestId);
    if (!starting) return;
    const { call, named } = starting;
    named.resolve();
    if (call.state === 'Disconnected') {
      this._command({ type: 'call.hangUp', callId: frame.callId }).catch(warn);
      return;
    }
    this.#byId.set(frame.callId, call);
    call._named(frame.callId);
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
      case 'call.started': return this.#onStarted(frame);
      case 'call.incoming': return this.#onIncoming(frame);
      case 'call.incoming.ended': return this.#onIncomingEnded(frame);
      case 'call.participantAdded':
      case 'call.audioConferencing': return this.#requests.get(frame.requestId)?.(frame);
      default: return this.#route(frame);
    }
  }

  /** A refusal: of a call being placed, of a call's request (by its `requestId`), or of the command at the head. */
  #onError(frame) {
    const starting = this.#starting.get(frame.requestId);
    if (starting) return starting.named.reject(errorFromFrame(frame));
    const take = this.#requests.get(frame.requestId);
    if (take) return take(frame);
    const head = this.#acks[0];
    if (head && !head.error) head.error = errorFromFrame(frame);
    else warn(errorFromFrame(frame));
    return undefined;
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
    incoming?._ended(frame.endReason ?? HUNG_UP);
  }

  #route(frame) {
    const call = this.#byId.get(frame.callId);
    if (call) return call._onFrame(frame);
    const incoming = this.#incoming.get(frame.callId);
    if (incoming && frame.type === 'call.ice') incoming._addCandidate(frame.candidate);
    return undefined;
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
    const message = event.reason || `The connection to the calling service closed (${event.code}).`;
    this.#welcome.reject(new CallingError(code, 0, message));
    this.#acks.splice(0).forEach((ack) => ack.reject(new CallingError(503, 0, message)));
    this.calls.forEach((call) => call._end(LOST_SOCKET));
    [...this.#incoming.values()].forEach((incoming) => incoming._ended(LOST_SOCKET));
    this.#incoming.clear();
    const oldValue = this.connectionState;
    this.connectionState = 'Disconnected';
    if (oldValue === 'Disconnected') return;
    const change = { oldValue, newValue: 'Disconnected' };
    if (!this.#disposed) change.reason = event.code === 4001 ? 'invalidToken' : 'connectionIssue';
    this._emit('connectionStateChanged', change);
  }
}

/**
 * ACS's CallAgent (`kind` 'CallAgent'), made by `callClient.createCallAgent(credential, {displayName})`: how a
 * guest (a communication identity) joins a Teams meeting under a name of its choosing. The same agent as a
 * TeamsCallAgent otherwise; its calls are of `kind` 'Call', and `displayName` is the name others see.
 */
class CallAgent extends TeamsCallAgent {
  kind = CallAgentKind.CallAgent;

  get displayName() {
    return this._displayName;
  }

  get _callKind() {
    return CallKind.Call;
  }
}

function onlyOne(targets) {
  if (targets.length !== 1) throw new CallingError(400, 0, 'This version calls one person at a time.');
  return targets[0];
}

// -- the client -----------------------------------------------------------------------------------------------

/**
 * `new CallClient()`: the entry point. callbridge's own option: `endpoint`, the service's https origin (by default
 * the origin this module was loaded from). ACS's options (`logger`, `diagnostics`, `networkConfiguration`) are
 * taken and not used.
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
    return this.#create(TeamsCallAgent, tokenCredential, {});
  }

  /** A CallAgent: a communication identity's (a guest's), `{displayName}` the name the others see. */
  async createCallAgent(tokenCredential, options = {}) {
    const displayName = options?.displayName;
    if (displayName !== undefined && (typeof displayName !== 'string' || displayName.length > 256)) {
      throw new TypeError('displayName is a string of at most 256 characters.');
    }
    return this.#create(CallAgent, tokenCredential, { displayName: displayName?.trim() || undefined });
  }

  async #create(Agent, tokenCredential, options) {
    if (this.#agent) {
      throw new CallingError(409, 40230, `A ${this.#agent.kind} already exists on this CallClient; dispose it first.`);
    }
    const url = new URL('/calling/ws', this.#endpoint);
    url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
    const agent = new Agent(url.href, tokenCredential, this.#deviceManager, () => {
      if (this.#agent === agent) this.#agent = null;
    }, options);
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
