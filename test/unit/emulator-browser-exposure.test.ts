// The emulator's control endpoints (/__emulator/...) take no credential: its default host,
// 127.0.0.1, is what keeps other hosts out. A web page open in the developer's browser is not kept
// out by it: a cross-site POST with a text/plain body is a "simple" request the browser sends
// without asking (no CORS preflight), and a page whose name its owner re-points at 127.0.0.1 (DNS
// rebinding) reads the answers as same-origin. corral's admin listener refuses both (Authorization
// needed; a Host check on loopback); the emulator should at least refuse a control POST that is
// not JSON and a request addressed to another host name.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { DEFAULT_SPREADSHEET_ID, startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';

let emulator: Emulator;
before(async () => {
  emulator = await startEmulator({ port: 0, host: '127.0.0.1' });
});
after(() => emulator.close());

function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: emulator.port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a cross-site "simple" POST (Content-Type: text/plain) cannot change the faults', async () => {
  const before = emulator.faults().errorRate;
  // What `fetch(url, {method: 'POST', mode: 'no-cors', body})` or an HTML form sends from any page.
  const res = await send('POST', '/__emulator/faults', { 'content-type': 'text/plain;charset=UTF-8', origin: 'https://attacker.example' }, '{"errorRate":1}');
  assert.equal(emulator.faults().errorRate, before, `faults changed by a cross-site POST (answered ${res.status} ${res.text})`);
  assert.ok(res.status >= 400, `answered ${res.status}`);
});

test('a request addressed to another host name (DNS rebinding) does not get the tabs', async () => {
  const res = await send('GET', `/__emulator/spreadsheets/${DEFAULT_SPREADSHEET_ID}/sheets/Players`, { host: `rebind.attacker.example:${emulator.port}` });
  assert.ok(!res.text.includes('code'), `the Players tab, login codes included, was served to Host rebind.attacker.example: ${res.status} ${res.text.slice(0, 120)}`);
  assert.ok(res.status >= 400, `answered ${res.status}`);
});
