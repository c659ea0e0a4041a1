/**
 * Contoso's customer card, edited in the page: a modal form (name, company, phone numbers, notes) for a new customer
 * or an existing one, saved through `/api/customers`. Numbers are checked as E.164 here before anything is sent;
 * what the server refuses (a number that already belongs to another customer) is said in words in the form, and
 * nothing typed is lost. Deleting asks once more on the same button. The dialog sends `saved` after every change
 * (the customer list and the history listen).
 */
import * as api from './api.js';
import { h, statusLine } from './dom.js';
import { toE164, whyNotE164 } from './words.js';

/** The numbers typed one per line (or separated by commas): `{numbers}` in E.164, or `{error}` in words. */
export function parseNumbers(text) {
  const typed = text.split(/[\n,;]/).map((t) => t.trim()).filter(Boolean);
  const numbers = [];
  for (const entry of typed) {
    const number = toE164(entry);
    if (!number) return { error: `${entry}: ${whyNotE164(entry)}` };
    if (numbers.includes(number)) return { error: `${number} is listed twice.` };
    numbers.push(number);
  }
  if (numbers.length > 10) return { error: 'A customer has at most 10 phone numbers.' };
  return { numbers };
}

export class CustomerForm {
  constructor() {
    const field = (label, input) => h('label', {}, label, input);
    this.name = h('input', { type: 'text', name: 'name', required: true, maxlength: 200, autocomplete: 'off' });
    this.company = h('input', { type: 'text', name: 'company', maxlength: 200, autocomplete: 'organization' });
    this.numbers = h('textarea', { name: 'numbers', rows: 2, placeholder: '+1 206 555 0100',
      'aria-describedby': 'customer-numbers-help' });
    this.notes = h('textarea', { name: 'notes', rows: 3, maxlength: 4000 });
    this.title = h('h2', { id: 'customer-form-title' });
    this.problem = statusLine('problem', 'alert');
    this.remove = h('button', { type: 'button', class: 'danger delete-customer', text: 'Delete customer' });
    this.remove.addEventListener('click', () => this.#delete());
    const cancel = h('button', { type: 'button', text: 'Cancel', onclick: () => this.element.close() });
    this.form = h('form', { method: 'dialog', novalidate: true },
      this.title,
      field('Name ', this.name),
      field('Company ', this.company),
      field('Phone numbers ', this.numbers),
      h('p', { id: 'customer-numbers-help', class: 'help', text: 'One per line, each with + and the country code.' }),
      field('Notes ', this.notes),
      this.problem,
      h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary', text: 'Save' }), cancel,
        this.remove));
    this.form.addEventListener('submit', (event) => { event.preventDefault(); this.#save(); });
    this.element = h('dialog', { class: 'customer-form', 'aria-labelledby': 'customer-form-title' }, this.form);
  }

  /** Opens the form for `customer` (`{id, name, company, phoneNumbers, notes}`), or empty for a new one. */
  open(customer = null, numberToAdd = '') {
    this.customer = customer;
    this.title.textContent = customer ? `Edit ${customer.name}` : 'New customer';
    this.name.value = customer?.name ?? '';
    this.company.value = customer?.company ?? '';
    this.numbers.value = [...(customer?.phoneNumbers ?? []), numberToAdd].filter(Boolean).join('\n');
    this.notes.value = customer?.notes ?? '';
    this.problem.textContent = '';
    this.remove.hidden = !customer;
    this.remove.textContent = 'Delete customer';
    this.element.showModal();
    this.name.focus();
  }

  async #save() {
    this.problem.textContent = '';
    const name = this.name.value.trim();
    if (!name) {
      this.problem.textContent = 'Type the customer\'s name.';
      this.name.focus();
      return;
    }
    const parsed = parseNumbers(this.numbers.value);
    if (parsed.error) {
      this.problem.textContent = parsed.error;
      this.numbers.focus();
      return;
    }
    const fields = { name, company: this.company.value.trim(), phoneNumbers: parsed.numbers,
      notes: this.notes.value };
    try {
      if (this.customer) await api.updateCustomer(this.customer.id, fields);
      else await api.createCustomer(fields);
    } catch (error) {
      this.problem.textContent = `Could not save: ${error.message}`;
      return;
    }
    this.element.close();
    this.element.dispatchEvent(new Event('saved'));
  }

  async #delete() {
    if (this.remove.textContent !== 'Really delete?') {
      this.remove.textContent = 'Really delete?';
      return;
    }
    try {
      await api.deleteCustomer(this.customer.id);
    } catch (error) {
      this.problem.textContent = `Could not delete: ${error.message}`;
      return;
    }
    this.element.close();
    this.element.dispatchEvent(new Event('saved'));
  }
}
