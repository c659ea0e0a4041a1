/**
 * Before joining a meeting: the microphone and speaker to use, with the input level moving as one speaks (the
 * preview), whether to join muted, then Join. The devices chosen here are the DeviceManager's selection, which
 * the call then uses.
 */
import { DevicePanel } from './devices.js';
import { h, statusLine } from './dom.js';

export class PreJoin {
  constructor(deviceManager, subject, { onJoin, onCancel }) {
    this.panel = new DevicePanel(deviceManager, (error) => { this.problem.textContent = error.message; });
    this.problem = statusLine('problem', 'alert');
    const muted = h('input', { type: 'checkbox', name: 'join-muted', class: 'join-muted' });
    const join = h('button', { type: 'button', class: 'join-now primary', text: 'Join now', onclick: () => {
      this.close();
      onJoin({ muted: muted.checked });
    } });
    const cancel = h('button', { type: 'button', class: 'cancel', text: 'Cancel', onclick: () => {
      this.close();
      onCancel();
    } });
    this.element = h('section', { class: 'card prejoin', 'aria-labelledby': 'prejoin-title' },
      h('h2', { id: 'prejoin-title', text: `Join ${subject}` }),
      h('p', { text: 'Check your microphone: the bar moves when you speak.' }),
      this.panel.element, h('label', { class: 'check' }, muted, ' Join with my microphone off'),
      h('div', { class: 'actions' }, join, cancel), this.problem);
    this.join = join;
  }

  async open() {
    try {
      await this.panel.open();
    } catch (error) {
      this.problem.textContent = error.message;
    }
    this.join.focus();
  }

  close() {
    this.panel.close();
    this.element.remove();
  }
}
