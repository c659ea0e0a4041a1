/**
 * What the portal says in words: how a call ended (ACS's `{code, subCode}` pairs, docs/protocol.md), what a call's
 * state means, numbers (E.164), durations and initials. Pure functions: the unit tests call them directly.
 */

/** `code/subCode` → a sentence. Perspective-free where the same pair reaches both sides. */
export const END_REASONS = {
  '0/0': 'The call ended.',
  '487/0': 'The call was cancelled before anyone answered.',
  '603/0': 'The call was declined.',
  '487/10003': 'The call was answered on another device.',
  '487/10004': 'Nobody answered.',
  '480/10037': 'Nobody was available: they are not signed in anywhere.',
  '0/4521': 'The connection was lost.',
  '0/560000': 'The other side hung up.',
  '486/560486': 'The number is busy.',
  '600/560600': 'The number is busy.',
  '603/560603': 'The call was declined.',
  '480/560480': 'The phone could not be reached.',
  '408/560408': 'Nobody answered the phone.',
  '404/560404': 'That number does not exist.',
  '487/560487': 'The call was cancelled.',
  '410/301005': 'The call lost its audio.',
  '503/560503': 'The phone lines are busy: try again in a moment.',
  '400/10114': 'That is not a valid phone number.',
  '403/10110': 'Phone calls are not set up for your organisation.',
  '403/10111': 'You have no licence for phone calls: ask your administrator for a Teams Phone licence.',
  '412/41056': 'Phone calls are not enabled for you (Enterprise Voice is off): ask your administrator.',
  '403/10112': 'You have no phone number to call from: ask your administrator to assign one.',
  '403/10113': 'Your organisation has no route to that number.',
  '400/10101': 'You two share no chat to call over.',
  '400/10103': 'You cannot call yourself.',
  '401/10009': 'Your account is disabled.',
  '403/5222': 'Calls with this organisation are turned off.',
  '403/5223': 'They are in another organisation, and the two organisations do not federate.',
  '429/10116': 'You have too many calls in progress.',
  '429/10117': 'Too many call attempts: wait a moment.',
  '0/4097': 'The organizer ended the meeting for everyone.',
  '0/5300': 'You were removed from the meeting.',
  '0/5854': 'You were not admitted to the meeting.',
  '0/5855': 'Nobody admitted you to the meeting in time.',
  '404/10122': 'No meeting has this meeting id and passcode.',
  '410/10123': 'The organizer cancelled this meeting.',
  '410/10124': 'The organizer deleted this meeting.',
  '400/10121': 'That meeting link belongs to another service.',
};

/** When only the code is known (a trunk's status the table lacks). */
const BY_CODE = { 403: 'The call was refused.', 404: 'Not found.', 408: 'Nobody answered.', 480: 'Not reachable.',
  486: 'Busy.', 487: 'The call was cancelled.', 603: 'The call was declined.' };

/** `{title, detail}`: the sentence, and the codes for whoever reports a problem. */
export function endReasonInWords(reason) {
  const { code = 0, subCode = 0, message } = reason ?? {};
  const title = END_REASONS[`${code}/${subCode}`] ?? message ?? BY_CODE[code] ?? 'The call ended.';
  return { title, detail: `code ${code}, subCode ${subCode}` };
}

/** Ends of a meeting that deserve a page of their own. */
export const MEETING_ENDS = new Set(['0/5854', '0/5855', '0/5300', '0/4097']);
export const isMeetingEnd = (reason) => MEETING_ENDS.has(`${reason?.code}/${reason?.subCode}`);

export const CALL_STATES = {
  None: 'Starting…',
  Connecting: 'Calling…',
  Ringing: 'Ringing…',
  EarlyMedia: 'Ringing (you may hear the network)…',
  Connected: 'Connected',
  LocalHold: 'On hold',
  RemoteHold: 'Held by the other side',
  InLobby: 'Waiting in the lobby: someone in the meeting will let you in.',
  Disconnecting: 'Hanging up…',
  Disconnected: 'Ended',
};
export const PARTICIPANT_STATES = {
  Idle: 'Idle', Connecting: 'Calling', Ringing: 'Ringing', EarlyMedia: 'Ringing', Connected: 'In the call',
  Hold: 'On hold', InLobby: 'In the lobby', Disconnected: 'Left',
};

/** E.164: a plus, a country code not starting with 0, at most 15 digits in all. */
/** The line under a caller's or callee's name: a customer's company and number, a colleague's title. */
export function aboutPeer(who) {
  const details = who.customer ? [who.company, who.number]
    : [who.title, who.number && who.number !== who.name ? who.number : null];
  return details.filter(Boolean).join(' · ');
}

export const E164 = /^\+[1-9]\d{6,14}$/;

/** The number as E.164 (spaces, dashes, dots and brackets dropped; `00` taken for `+`), or null. */
export function toE164(text) {
  let number = String(text ?? '').trim().replace(/[\s().-]/g, '');
  if (number.startsWith('00')) number = `+${number.slice(2)}`;
  return E164.test(number) ? number : null;
}

/** Why a number is not E.164, in words (for the dial pad's message). */
export function whyNotE164(text) {
  const number = String(text ?? '').trim().replace(/[\s().-]/g, '');
  if (!number) return 'Type a phone number.';
  if (!number.startsWith('+') && !number.startsWith('00')) return 'Start with + and the country code, e.g. +1 206 555 0100.';
  if (/[^+\d]/.test(number)) return 'A phone number has only digits after the +.';
  return 'A phone number has 7 to 15 digits after the + (the country code first, not 0).';
}

export function duration(ms) {
  const total = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${seconds}` : `${minutes}:${seconds}`;
}

export function initialsOf(name) {
  const words = String(name ?? '').trim().split(/\s+/).filter((w) => /\p{L}/u.test(w));
  if (!words.length) return '?';
  const letters = words.length === 1 ? words[0].slice(0, 2) : words[0][0] + words[words.length - 1][0];
  return letters.toUpperCase();
}

const TIME = { hour: '2-digit', minute: '2-digit' };
export const timeOf = (date) => new Date(date).toLocaleTimeString([], TIME);
export const dayAndTime = (date) => new Date(date).toLocaleString([], { weekday: 'short', day: 'numeric',
  month: 'short', ...TIME });

/** The DTMF tone name of a keypad key (ACS's DtmfTone). */
export function dtmfTone(key) {
  if (/^[0-9]$/.test(key)) return `Num${key}`;
  return { '*': 'Star', '#': 'Pound', A: 'A', B: 'B', C: 'C', D: 'D' }[key] ?? null;
}
