/**
 * The history page: the user's recent calls from `/api/history` (newest first): who (the customer's or
 * colleague's name where known), when, how long, how it ended in words; a call back, and a number that is no
 * customer yet added to the customers in a click (the customer form, filled with it).
 */
import * as api from './api.js';
import { actionButton, clear, h, statusLine } from './dom.js';
import { dayAndTime, duration, endReasonInWords } from './words.js';

const DIRECTIONS = { incoming: 'Incoming', outgoing: 'Outgoing' };

export class HistoryPage {
  constructor(actions, customerForm) {
    this.actions = actions;
    this.customerForm = customerForm;
    customerForm.element.addEventListener('saved', () => { if (!this.element.closest('[hidden]')) this.load(); });
    this.rows = h('tbody');
    this.problem = statusLine('problem', 'alert');
    this.element = h('section', { class: 'card history', 'aria-labelledby': 'history-title' },
      h('h2', { id: 'history-title', text: 'Recent calls' }),
      h('div', { class: 'table-scroll' }, h('table', {},
        h('thead', {}, h('tr', {}, ['Who', 'Direction', 'When', 'How long', 'How it ended', ''].map((text) => h('th', {
          scope: 'col', text })))), this.rows)), this.problem);
  }

  async load() { // entries: the POST body of docs/portal.md's history route, with `customer` {id, name, company} where the number is one
    this.problem.textContent = '';
    try {
      const data = await api.history();
      const calls = Array.isArray(data) ? data : data.value ?? [];
      clear(this.rows, calls.map((entry) => {
        const talked = entry.connectedAt ? duration(Date.parse(entry.endedAt) - Date.parse(entry.connectedAt)) : '—';
        const ended = endReasonInWords(entry.endReason);
        return h('tr', { class: 'history-entry', dataset: { callId: entry.callId } },
          h('td', {}, h('strong', { text: entry.customer?.name || entry.peerName || entry.peerRawId }),
            entry.peerRawId?.startsWith('4:') ? h('small', { text: ` ${entry.peerRawId.slice(2)}` }) : null),
          h('td', { text: DIRECTIONS[entry.direction] ?? entry.direction }),
          h('td', {}, h('time', { datetime: entry.startedAt, text: dayAndTime(entry.startedAt) })),
          h('td', { text: talked }),
          h('td', { text: ended.title, title: ended.detail }),
          h('td', { class: 'again' }, this.#again(entry)));
      }));
      if (!calls.length) this.rows.append(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: 'No calls yet.' })));
    } catch (error) {
      this.problem.textContent = `Could not load your calls: ${error.message}`;
    }
  }

  /** Call back (a number or a colleague), and "Add to customers" for a number that is no customer yet. */
  #again(entry) {
    const report = (error) => { this.problem.textContent = `Could not call: ${error.message}`; };
    const who = entry.customer?.name || entry.peerName || entry.peerRawId;
    const raw = entry.peerRawId ?? '';
    if (raw.startsWith('4:')) {
      const number = raw.slice(2);
      return [actionButton('Call back', () => this.actions.callNumber(number, entry.customer), report,
        { class: 'call-back', 'aria-label': `Call ${who} back` }),
      entry.customer ? null : h('button', { type: 'button', class: 'add-customer', text: 'Add to customers',
        'aria-label': `Add ${number} to customers`, onclick: () => this.customerForm.open(null, number) })];
    }
    if (raw.startsWith('8:orgid:')) {
      return actionButton('Call back', () => this.actions.callColleague({ id: raw.slice(8), displayName: who }),
        report, { class: 'call-back', 'aria-label': `Call ${who} back` });
    }
    return null;
  }
}
