/**
 * The ring tone, made on the spot with WebAudio (no sound file, nothing fetched): the UK-style double ring,
 * 400 + 450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off, scheduled ahead on the audio clock. Browsers keep an
 * AudioContext suspended until the person has touched the page: `unlock()` runs on the first click or key.
 */
const CADENCE = [[0, 0.4], [0.6, 1.0]]; // seconds within each 3 s cycle
const CYCLE_S = 3;
const LEVEL = 0.12;

export class Ringer {
  #context = null;
  #output = null;
  #sources = [];
  #timer = null;

  unlock() {
    this.#context ??= new AudioContext();
    if (this.#context.state === 'suspended') this.#context.resume().catch(() => {});
  }

  get ringing() { return this.#timer !== null; }

  start() {
    if (this.ringing) return;
    this.unlock();
    const context = this.#context;
    this.#output = context.createGain();
    this.#output.gain.value = 0;
    this.#output.connect(context.destination);
    for (const hz of [400, 450]) {
      const oscillator = context.createOscillator();
      oscillator.frequency.value = hz;
      oscillator.connect(this.#output);
      oscillator.start();
      this.#sources.push(oscillator);
    }
    let next = context.currentTime + 0.05;
    const schedule = () => { // keeps two cycles scheduled ahead
      while (next < context.currentTime + 2 * CYCLE_S) {
        for (const [on, off] of CADENCE) {
          this.#output.gain.setValueAtTime(LEVEL, next + on);
          this.#output.gain.setValueAtTime(0, next + off);
        }
        next += CYCLE_S;
      }
    };
    schedule();
    this.#timer = setInterval(schedule, 1000);
  }

  stop() {
    clearInterval(this.#timer);
    this.#timer = null;
    this.#sources.splice(0).forEach((source) => source.stop());
    this.#output?.disconnect();
    this.#output = null;
  }
}
