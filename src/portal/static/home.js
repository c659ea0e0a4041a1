/**
 * The home page: the organisation's directory (searched, paged: `/api/directory`), Contoso's customers
 * (`/api/customers`, added and edited in a form: customerform.js), a dial pad that takes only E.164 numbers, today's and this week's meetings (`/api/meetings`)
 * with Join buttons, and a join box (a meeting link, or a meeting id and passcode). It calls through `actions`
 * (`callNumber(number, customer?)`, `callColleague(person)`, `prepareJoin(locator, subject)`), which app.js provides.
 */
import * as api from './api.js';
import { CustomerForm } from './customerform.js';
import { actionButton, clear, h, statusLine } from './dom.js';
import { dayAndTime, initialsOf, timeOf, toE164, whyNotE164 } from './words.js';

function searchForm(name, label, placeholder, onSearch) {
  const input = h('input', { type: 'search', name, placeholder, autocomplete: 'off', 'aria-label': label });
  const form = h('form', { class: 'search', role: 'search' }, input, h('button', { type: 'submit', text: 'Search' }));
  form.addEventListener('submit', (event) => { event.preventDefault(); onSearch(input.value.trim()); });
  return { form, input };
}

function card(title, className, ...children) {
  return h('section', { class: `card ${className}`, 'aria-labelledby': `${className}-title` },
    h('h2', { id: `${className}-title`, text: title }), ...children);
}

export class Home {
  constructor(actions) {
    this.actions = actions;
    this.element = h('div', { class: 'home' },
      this.#directory(), this.#customers(), this.#dialPad(), this.#meetings(), this.#joinBox());
  }

  /** Loads what the page shows without being asked: the meetings and the first page of each list. */
  load() {
    this.searchDirectory('');
    this.searchCustomers('');
    this.loadMeetings();
  }

  report(line, what) {
    return (error) => { line.textContent = `${what}: ${error.message}`; };
  }

  // -- the directory (use case 3) -------------------------------------------------------------------------------

  #directory() {
    this.people = h('ul', { class: 'people-list', 'aria-label': 'Colleagues' });
    this.peopleProblem = statusLine('problem', 'alert');
    this.peopleMore = h('button', { type: 'button', class: 'more', text: 'More colleagues', hidden: true });
    this.peopleMore.addEventListener('click', () => this.#morePeople());
    const { form } = searchForm('directory', 'Search your organisation', 'Name, title or e-mail',
      (text) => this.searchDirectory(text));
    return card('Colleagues', 'directory', form, this.people, this.peopleMore, this.peopleProblem);
  }

  async searchDirectory(text) {
    this.peopleProblem.textContent = '';
    clear(this.people, h('li', { class: 'loading', text: 'Searching…' }));
    try {
      const page = await api.directory(text);
      clear(this.people);
      this.#showPeople(page);
      if (!page.value.length) this.people.append(h('li', { class: 'empty', text: 'Nobody in your organisation matches.' }));
    } catch (error) {
      clear(this.people);
      this.report(this.peopleProblem, 'Could not search the directory')(error);
    }
  }

  async #morePeople() {
    try {
      this.#showPeople(await api.directory(undefined, this.peopleNext));
    } catch (error) {
      this.report(this.peopleProblem, 'Could not load more colleagues')(error);
    }
  }

  #showPeople({ value, next }) {
    this.peopleNext = next ?? null;
    this.peopleMore.hidden = !next;
    const problem = this.report(this.peopleProblem, 'Could not call');
    this.people.append(...value.map((person) => h('li', { class: 'person', dataset: { id: person.id } },
      h('span', { class: 'avatar', 'aria-hidden': 'true', text: initialsOf(person.displayName) }),
      h('span', { class: 'who' }, h('strong', { text: person.displayName }),
        h('small', { text: [person.jobTitle, person.mail].filter(Boolean).join(' · ') })),
      actionButton('Call', () => this.actions.callColleague(person), problem,
        { class: 'call-person', 'aria-label': `Call ${person.displayName}` }))));
  }

  // -- customers (use case 1) -----------------------------------------------------------------------------------

  #customers() {
    this.customerList = h('ul', { class: 'customer-list', 'aria-label': 'Customers' });
    this.customerProblem = statusLine('problem', 'alert');
    this.customerSearch = '';
    this.customerForm = new CustomerForm(); // its dialog sits at the page's root (app.js): the history opens it too
    this.customerForm.element.addEventListener('saved', () => this.searchCustomers(this.customerSearch));
    const { form } = searchForm('customers', 'Search customers', 'Name, company or number',
      (text) => this.searchCustomers(text));
    const add = h('button', { type: 'button', class: 'new-customer', text: 'New customer',
      onclick: () => this.customerForm.open() });
    return card('Customers', 'customers', form, this.customerList, add, this.customerProblem);
  }

  async searchCustomers(text) {
    this.customerProblem.textContent = '';
    this.customerSearch = text;
    try {
      const { value } = await api.customers(text);
      const problem = this.report(this.customerProblem, 'Could not call');
      clear(this.customerList, value.map((customer) => h('li', { class: 'customer', dataset: { id: customer.id } },
        h('span', { class: 'who' }, h('strong', { text: customer.name }),
          h('small', { text: [customer.company, customer.notes].filter(Boolean).join(' · ') })),
        h('span', { class: 'numbers' }, customer.phoneNumbers.map((number) => actionButton(number,
          () => this.actions.callNumber(number, customer), problem,
          { class: 'call-number', 'aria-label': `Call ${customer.name} at ${number}` })),
        h('button', { type: 'button', class: 'edit-customer', text: 'Edit', 'aria-label': `Edit ${customer.name}`,
          onclick: () => this.customerForm.open(customer) })))));
      if (!value.length) this.customerList.append(h('li', { class: 'empty', text: 'No customer matches.' }));
    } catch (error) {
      clear(this.customerList);
      this.report(this.customerProblem, 'Could not search customers')(error);
    }
  }

  // -- the dial pad ---------------------------------------------------------------------------------------------

  #dialPad() {
    const input = h('input', { type: 'tel', name: 'number', class: 'dial-number', autocomplete: 'tel',
      placeholder: '+1 206 555 0100', 'aria-label': 'Phone number', 'aria-describedby': 'dial-help' });
    const help = h('p', { id: 'dial-help', class: 'help', role: 'status', 'aria-live': 'polite',
      text: 'International format: + and the country code.' });
    const keys = h('div', { class: 'keys', role: 'group', 'aria-label': 'Dial pad' },
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '+', '0', '⌫'].map((key) => h('button', {
        type: 'button', class: 'key', text: key, 'aria-label': key === '⌫' ? 'Delete' : key, onclick: () => {
          input.value = key === '⌫' ? input.value.slice(0, -1) : input.value + key;
          input.focus();
          check();
        } })));
    const submit = h('button', { type: 'submit', class: 'dial primary', text: 'Call' });
    const form = h('form', { class: 'dial-pad', novalidate: true }, input, keys, submit, help);
    const check = () => {
      const valid = Boolean(toE164(input.value));
      input.setAttribute('aria-invalid', String(!valid && input.value.trim() !== ''));
      help.classList.remove('error');
      help.textContent = valid ? `Calls ${toE164(input.value)}.` : 'International format: + and the country code.';
    };
    input.addEventListener('input', check);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const number = toE164(input.value);
      if (!number) {
        help.textContent = whyNotE164(input.value);
        help.classList.add('error');
        input.setAttribute('aria-invalid', 'true');
        input.focus();
        return;
      }
      try {
        await this.actions.callNumber(number);
      } catch (error) {
        help.textContent = `Could not call: ${error.message}`;
        help.classList.add('error');
      }
    });
    return card('Dial a number', 'dialer', form);
  }

  // -- meetings (use case 5) ------------------------------------------------------------------------------------

  #meetings() {
    this.today = h('ul', { class: 'meeting-list today', 'aria-label': 'Today' },
      h('li', { class: 'loading', text: 'Reading your calendar…' }));
    this.week = h('ul', { class: 'meeting-list week', 'aria-label': 'Later this week' });
    this.meetingProblem = statusLine('problem', 'alert');
    return card('Meetings', 'meetings', h('h3', { text: 'Today' }), this.today,
      h('h3', { text: 'Later this week' }), this.week, this.meetingProblem);
  }

  async loadMeetings(now = new Date()) {
    const midnight = new Date(now.getFullYear(), now.getMonth(), now.getDate());
    const tomorrow = new Date(midnight.getTime() + 86_400_000);
    const weekEnd = new Date(midnight.getTime() + 7 * 86_400_000);
    try {
      const { value } = await api.meetings(midnight, weekEnd);
      const sorted = [...value].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
      const item = (meeting, when) => h('li', { class: 'meeting' },
        h('span', { class: 'who' }, h('strong', { text: meeting.subject || 'Meeting' }),
          h('small', { text: `${when} · ${meeting.isOrganizer ? 'you organize' : `by ${meeting.organizer ?? 'someone'}`}` })),
        meeting.joinUrl ? h('button', { type: 'button', class: 'join-meeting', text: 'Join',
          'aria-label': `Join ${meeting.subject}`,
          onclick: () => this.actions.prepareJoin({ meetingLink: meeting.joinUrl }, meeting.subject) })
          : h('small', { text: 'not online' }));
      const todays = sorted.filter((m) => Date.parse(m.start) < tomorrow.getTime());
      const later = sorted.filter((m) => Date.parse(m.start) >= tomorrow.getTime());
      clear(this.today, todays.length ? todays.map((m) => item(m, `${timeOf(m.start)}–${timeOf(m.end)}`))
        : h('li', { class: 'empty', text: 'No meetings today.' }));
      clear(this.week, later.length ? later.map((m) => item(m, dayAndTime(m.start)))
        : h('li', { class: 'empty', text: 'Nothing else this week.' }));
    } catch (error) {
      this.report(this.meetingProblem, 'Could not read your calendar')(error);
    }
  }

  #joinBox() {
    const link = h('input', { type: 'text', name: 'meeting-link', class: 'meeting-link', autocomplete: 'off',
      placeholder: 'https://…/meet/…' });
    const id = h('input', { type: 'text', name: 'meeting-id', class: 'meeting-id', inputmode: 'numeric',
      autocomplete: 'off' });
    const passcode = h('input', { type: 'text', name: 'passcode', class: 'passcode', autocomplete: 'off' });
    const help = statusLine('help', 'alert');
    const form = h('form', { class: 'join-box', novalidate: true },
      h('label', {}, 'Meeting link ', link),
      h('p', { class: 'or', text: 'or' }),
      h('div', { class: 'row' }, h('label', {}, 'Meeting id ', id), h('label', {}, 'Passcode ', passcode)),
      h('button', { type: 'submit', class: 'join primary', text: 'Join' }), help);
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      help.textContent = '';
      const locator = meetingLocator(link.value, id.value, passcode.value);
      if (locator.error) {
        help.textContent = locator.error;
        return;
      }
      this.actions.prepareJoin(locator, 'Meeting');
    });
    return card('Join a meeting', 'joiner', form);
  }
}

/** `{meetingLink}`, `{meetingId, passcode}`, or `{error}` in words. */
export function meetingLocator(linkText, idText, passcodeText) {
  const link = linkText.trim();
  if (link) {
    try {
      const url = new URL(link);
      if (url.protocol !== 'https:') return { error: 'A meeting link starts with https://.' };
      return { meetingLink: url.href };
    } catch {
      return { error: 'That is not a meeting link: paste the whole link from the invitation.' };
    }
  }
  const meetingId = idText.replace(/\s/g, '');
  if (!meetingId) return { error: 'Paste a meeting link, or type the meeting id and passcode.' };
  if (!/^\d{10,20}$/.test(meetingId)) return { error: 'A meeting id is 10 to 20 digits.' };
  const passcode = passcodeText.trim();
  if (!passcode) return { error: 'Type the meeting\'s passcode too.' };
  return { meetingId, passcode };
}
