/**
 * Use cases 2 and 4: a call ringing in this tab. A toast (`role=alertdialog`, Answer focused) with the ring tone,
 * and a browser notification while the tab is hidden; the caller named from Contoso's customers (a phone number:
 * `/api/customers/lookup`, with company and notes) or from the directory (a colleague: `/api/people/{id}`, with
 * title and initials), else the number as it is. When the call is answered in another tab or device, the SDK ends
 * this tab's incoming call (487/10003): the toast goes and the ringing stops.
 */
import * as api from './api.js';
import { actionButton, h } from './dom.js';
import { aboutPeer, endReasonInWords, initialsOf } from './words.js';

/** `{rawId, name, title, company, notes, initials}` of whoever is calling; the lookups' failures leave the number. */
export async function callerOf(callerInfo) {
  const identifier = callerInfo.identifier ?? {};
  const rawId = identifier.rawId ?? '';
  const number = identifier.phoneNumber;
  const base = { rawId, name: callerInfo.displayName || number || 'Someone', initials: initialsOf(callerInfo.displayName) };
  try {
    if (identifier.kind === 'phoneNumber' && number) {
      const customer = await api.lookupCustomer(number);
      if (!customer) return { ...base, name: callerInfo.displayName || number, number };
      return { ...base, name: customer.name, company: customer.company, notes: customer.notes, number,
        initials: initialsOf(customer.name), customer: true };
    }
    if (identifier.kind === 'microsoftTeamsUser') {
      const someone = await api.person(identifier.microsoftTeamsUserId);
      return { ...base, name: someone.displayName, title: someone.jobTitle,
        initials: someone.initials || initialsOf(someone.displayName) };
    }
  } catch {
    // the SDK's name (or the number) is still right: a failing lookup must not stop the ringing
  }
  return base;
}

export class IncomingCalls {
  #phone;
  #ringer;
  #container;
  #report;
  #ringingHere = new Set();

  constructor(phone, ringer, container, report) {
    this.#phone = phone;
    this.#ringer = ringer;
    this.#container = container;
    this.#report = report;
    phone.addEventListener('incoming', (event) => this.#ring(event.detail));
  }

  get ringing() { return this.#ringingHere.size; }

  async #ring(incomingCall) {
    const startedAt = new Date();
    this.#ringingHere.add(incomingCall);
    this.#ringer.start();
    const quick = { rawId: incomingCall.callerInfo.identifier?.rawId ?? '',
      name: incomingCall.callerInfo.displayName || incomingCall.callerInfo.identifier?.phoneNumber || 'Someone' };
    const toast = this.#toast(incomingCall, quick);
    if (this.#phone.busy) toast.answer.textContent = 'Hang up and answer';
    this.#container.append(toast.element);
    toast.answer.focus();
    let caller = quick;
    let notification = null;
    incomingCall.on('callEnded', ({ callEndReason }) => {
      this.#stopRinging(incomingCall, toast.element);
      notification?.close();
      if (!toast.answered) {
        this.#phone.recordUnanswered(incomingCall, caller, startedAt).catch(() => {});
        this.#note(`${caller.name}: ${endReasonInWords(callEndReason).title}`);
      }
    });
    caller = await callerOf(incomingCall.callerInfo);
    if (!this.#ringingHere.has(incomingCall)) return;
    toast.show(caller);
    notification = this.#notify(incomingCall, caller);
  }

  #toast(incomingCall, caller) {
    const avatar = h('span', { class: 'avatar', 'aria-hidden': 'true' });
    const name = h('strong', { class: 'caller-name' });
    const about = h('p', { class: 'caller-about' });
    const notes = h('p', { class: 'caller-notes' });
    const toast = { answered: false };
    const answer = actionButton('Answer', async () => {
      toast.answered = true;
      this.#stopRinging(incomingCall, element);
      try {
        await this.#phone.answer(incomingCall, toast.caller);
      } catch (error) {
        toast.answered = false;
        throw error;
      }
    }, (error) => this.#report(error, 'Could not answer'), { class: 'answer primary' });
    const decline = actionButton('Decline', async () => {
      this.#stopRinging(incomingCall, element);
      await incomingCall.reject();
    }, (error) => this.#report(error, 'Could not decline'), { class: 'decline danger' });
    const title = h('h2', { class: 'toast-title' }, name, ' is calling');
    const element = h('section', { class: 'toast incoming', role: 'alertdialog', 'aria-live': 'assertive',
      'aria-label': 'Incoming call', dataset: { callId: incomingCall.id } },
    h('div', { class: 'toast-head' }, avatar, h('div', {}, title, about)), notes, h('div', { class: 'actions' }, answer, decline));
    element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') decline.click();
    });
    toast.element = element;
    toast.answer = answer;
    toast.show = (who) => {
      toast.caller = who;
      name.textContent = who.name;
      avatar.textContent = who.initials ?? initialsOf(who.name);
      about.textContent = aboutPeer(who);
      notes.textContent = who.notes ?? '';
      notes.hidden = !who.notes;
    };
    toast.show(caller);
    return toast;
  }

  #stopRinging(incomingCall, element) {
    this.#ringingHere.delete(incomingCall);
    if (!this.#ringingHere.size) this.#ringer.stop();
    element.remove();
  }

  #notify(incomingCall, caller) {
    if (!document.hidden || typeof Notification === 'undefined' || Notification.permission !== 'granted') return null;
    const notification = new Notification(`${caller.name} is calling`, {
      body: [caller.company ?? caller.title, caller.notes].filter(Boolean).join('\n'), tag: incomingCall.id,
      requireInteraction: true,
    });
    notification.onclick = () => { window.focus(); notification.close(); };
    return notification;
  }

  #note(text) {
    const note = h('p', { class: 'toast note', role: 'status', text });
    this.#container.append(note);
    setTimeout(() => note.remove(), 8000);
  }
}
