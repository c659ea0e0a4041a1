// The portal's pure functions (words.js, the join box's locator, the customer form's numbers), run by `node --test` (test_page_units.py).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseNumbers } from '../../src/portal/static/customerform.js';
import { meetingLocator } from '../../src/portal/static/home.js';
import {
  dtmfTone, duration, endReasonInWords, initialsOf, isMeetingEnd, toE164, whyNotE164,
} from '../../src/portal/static/words.js';

test('E.164: punctuation and 00 are forgiven, everything else is refused with a reason', () => {
  assert.equal(toE164('+1 (206) 555-0100'), '+12065550100');
  assert.equal(toE164('00 44 20 7946 0144'), '+442079460144');
  for (const bad of ['2065550100', '+0123456789', '+1 206 555 01OO', '+1234', '+1234567890123456', '']) {
    assert.equal(toE164(bad), null, bad);
  }
  assert.match(whyNotE164('2065550100'), /Start with \+/);
  assert.match(whyNotE164('+1 206 55x'), /only digits/);
  assert.match(whyNotE164('+0123'), /7 to 15 digits/);
  assert.equal(whyNotE164('  '), 'Type a phone number.');
});

test('end reasons read as sentences, with the codes kept for whoever reports a problem', () => {
  const cases = {
    '0/0': 'The call ended.', '603/0': 'The call was declined.', '486/560486': 'The number is busy.',
    '480/560480': 'The phone could not be reached.', '404/560404': 'That number does not exist.',
    '408/560408': 'Nobody answered the phone.', '0/5854': 'You were not admitted to the meeting.',
    '0/5300': 'You were removed from the meeting.', '0/4097': 'The organizer ended the meeting for everyone.',
    '487/10003': 'The call was answered on another device.',
  };
  for (const [pair, words] of Object.entries(cases)) {
    const [code, subCode] = pair.split('/').map(Number);
    assert.deepEqual(endReasonInWords({ code, subCode }), { title: words, detail: `code ${code}, subCode ${subCode}` });
  }
  assert.match(endReasonInWords({ code: 403, subCode: 10111 }).title, /no licence for phone calls/);
  assert.equal(endReasonInWords({ code: 500, subCode: 7, message: 'The service said so.' }).title, 'The service said so.');
  assert.equal(endReasonInWords({ code: 408, subCode: 12345 }).title, 'Nobody answered.');
  assert.equal(endReasonInWords(undefined).title, 'The call ended.');
  assert.ok(isMeetingEnd({ code: 0, subCode: 5854 }) && !isMeetingEnd({ code: 0, subCode: 0 }));
});

test('durations, initials and keypad tones', () => {
  assert.equal(duration(0), '0:00');
  assert.equal(duration(65_400), '1:05');
  assert.equal(duration(3_723_000), '1:02:03');
  assert.equal(initialsOf('Megan Bowen'), 'MB');
  assert.equal(initialsOf('Kim van der Akers'), 'KA');
  assert.equal(initialsOf('cher'), 'CH');
  assert.equal(initialsOf(''), '?');
  assert.deepEqual(['0', '9', '*', '#', 'x'].map(dtmfTone), ['Num0', 'Num9', 'Star', 'Pound', null]);
});

test('the join box: a link, or a meeting id with its passcode, else what is missing in words', () => {
  assert.deepEqual(meetingLocator(' https://cb.example/meet/l/x ', '', ''), { meetingLink: 'https://cb.example/meet/l/x' });
  assert.deepEqual(meetingLocator('', '123 456 789 012', 'Ab12'), { meetingId: '123456789012', passcode: 'Ab12' });
  assert.match(meetingLocator('http://cb.example/meet', '', '').error, /https/);
  assert.match(meetingLocator('not a link', '', '').error, /not a meeting link/);
  assert.match(meetingLocator('', '', '').error, /Paste a meeting link/);
  assert.match(meetingLocator('', '12345', 'x').error, /10 to 20 digits/);
  assert.match(meetingLocator('', '1234567890', '').error, /passcode/);
});

test('a customer\'s numbers: one per line or comma-separated, each in E.164, none twice, at most ten', () => {
  assert.deepEqual(parseNumbers('+1 206 555 0100\n 00 44 20 7946 0144 ,'), { numbers: ['+12065550100', '+442079460144'] });
  assert.deepEqual(parseNumbers('  '), { numbers: [] });
  assert.match(parseNumbers('+12065550100\n2065550101').error, /^2065550101: Start with \+/);
  assert.equal(parseNumbers('+1 206 555 0100, +12065550100').error, '+12065550100 is listed twice.');
  const eleven = Array.from({ length: 11 }, (_, i) => `+1206555${String(i).padStart(4, '0')}`).join('\n');
  assert.equal(parseNumbers(eleven).error, 'A customer has at most 10 phone numbers.');
});

test('every module of the page parses (node --check, as ES modules) and those that need no document load', async () => {
  const { copyFile, mkdtemp, readdir } = await import('node:fs/promises');
  const { execFileSync } = await import('node:child_process');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const folder = new URL('../../src/portal/static/', import.meta.url);
  const modules = (await readdir(folder)).filter((name) => name.endsWith('.js'));
  assert.ok(modules.length > 10, modules.join());
  const scratch = await mkdtemp(join(tmpdir(), 'portal-modules-'));
  for (const name of modules) {
    const copy = join(scratch, name.replace(/\.js$/, '.mjs'));
    await copyFile(new URL(name, folder), copy);
    execFileSync(process.execPath, ['--check', copy]); // throws with the syntax error and its line
    if (!['app.js', 'calling.js'].includes(name)) await import(new URL(name, folder)); // these touch `document`
  }
});
