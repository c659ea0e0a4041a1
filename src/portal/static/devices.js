/**
 * Microphone and speaker choice through the SDK's DeviceManager (the calls use what is selected there), and an
 * input level meter: a WebAudio analyser on a stream of the selected microphone, shown in a `<meter>` (no style
 * attribute, CSP-friendly). The same panel is the preview before joining a meeting and the settings in a call.
 */
import { h } from './dom.js';

export class LevelMeter {
  #stream = null;
  #context = null;
  #frame = 0;

  constructor(label = 'Microphone level') {
    this.element = h('meter', { class: 'level', min: 0, max: 1, low: 0.05, high: 0.7, optimum: 0.3, value: 0,
      'aria-label': label, title: label });
  }

  get level() { return Number(this.element.value); }

  /** Listens to `microphone` (a DeviceManager AudioDeviceInfo, or the default one). */
  async listen(microphone) {
    this.stop();
    const audio = microphone ? { deviceId: { exact: microphone.id } } : true;
    this.#stream = await navigator.mediaDevices.getUserMedia({ audio, video: false });
    this.#context = new AudioContext();
    const analyser = this.#context.createAnalyser();
    analyser.fftSize = 1024;
    this.#context.createMediaStreamSource(this.#stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const tick = () => {
      analyser.getFloatTimeDomainData(samples);
      const rms = Math.sqrt(samples.reduce((sum, x) => sum + x * x, 0) / samples.length);
      this.element.value = Math.min(1, rms * 4); // speech sits around 0.05 to 0.2 RMS
      this.#frame = requestAnimationFrame(tick);
    };
    tick();
  }

  stop() {
    cancelAnimationFrame(this.#frame);
    this.#stream?.getTracks().forEach((track) => track.stop());
    this.#context?.close().catch(() => {});
    this.#stream = null;
    this.#context = null;
    this.element.value = 0;
  }
}

/** Two labelled selects and the meter; `report(error)` shows problems in words. `meter`: a LevelMeter shown
 * elsewhere on the page (a call's header), which the panel moves to the chosen microphone; by default the panel
 * shows its own. */
export class DevicePanel {
  #devices;
  #report;
  #refresh;

  constructor(devices, report, meter = null) {
    this.#devices = devices;
    this.#report = report;
    this.meter = meter ?? new LevelMeter();
    this.microphones = h('select', { class: 'microphones', onchange: () => this.#choose('microphone') });
    this.speakers = h('select', { class: 'speakers', onchange: () => this.#choose('speaker') });
    this.element = h('fieldset', { class: 'devices' },
      h('legend', { text: 'Audio devices' }),
      h('label', {}, 'Microphone ', this.microphones),
      h('label', {}, 'Speaker ', this.speakers),
      meter ? null : h('label', { class: 'meter-label' }, 'Input level ', this.meter.element));
    this.#refresh = () => this.fill().catch(report);
    devices.on('audioDevicesUpdated', this.#refresh);
  }

  get selectedMicrophone() { return this.#devices.selectedMicrophone; }

  /** Asks for the microphone once (labels appear then), lists the devices, starts the meter. */
  async open() {
    const access = await this.#devices.askDevicePermission({ audio: true, video: false });
    if (!access.audio) throw new Error('The browser did not allow the microphone: allow it for this site and try again.');
    await this.fill();
    await this.meter.listen(this.#devices.selectedMicrophone);
  }

  async fill() {
    const [microphones, speakers] = await Promise.all([this.#devices.getMicrophones(), this.#devices.getSpeakers()]);
    this.#options(this.microphones, microphones, this.#devices.selectedMicrophone);
    this.#options(this.speakers, speakers, this.#devices.selectedSpeaker);
    this.speakers.disabled = !this.#devices.isSpeakerSelectionAvailable || !speakers.length;
    this.known = { microphone: microphones, speaker: speakers };
  }

  close() {
    this.meter.stop();
    this.#devices.off('audioDevicesUpdated', this.#refresh);
  }

  #options(select, list, selected) {
    select.replaceChildren(...list.map((device, index) => h('option', {
      value: device.id, text: device.name || `Device ${index + 1}`, selected: device.id === selected?.id })));
  }

  async #choose(kind) {
    const select = kind === 'microphone' ? this.microphones : this.speakers;
    const device = this.known?.[kind]?.find((d) => d.id === select.value);
    if (!device) return;
    try {
      if (kind === 'microphone') {
        await this.#devices.selectMicrophone(device);
        await this.meter.listen(device);
      } else {
        await this.#devices.selectSpeaker(device);
      }
    } catch (error) {
      this.#report(error);
    }
  }
}
