// The dashboard's #token= given to a page already open (static/dashboard.js, token.js), run in a
// bare context: an address that differs only in its fragment is a same-document navigation, with
// no load and no DOMContentLoaded, so a token pasted there after the page loaded was never taken,
// and stayed in the address bar and the history while the page went on with its form or its old token.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import vm from 'node:vm';
import { staticDir } from '../../src/master/admin/static.js';

interface FakeElement {
  textContent: string;
  hidden: boolean;
  value: string;
  dataset: Record<string, string>;
  style: Record<string, string>;
  addEventListener(type: string, fn: (e: unknown) => void): void;
  focus(): void;
  replaceChildren(): void;
}

it('a #token= put in the address of the open page is taken, sent, and leaves the address', async () => {
  const store = new Map<string, string>();
  const location = { hash: '', pathname: '/admin', search: '' };
  let address = '/admin';
  const els = new Map<string, FakeElement>();
  const element = (): FakeElement => ({ textContent: '', hidden: false, value: '', dataset: {}, style: {}, addEventListener() {}, focus() {}, replaceChildren() {} });
  const $ = (id: string): FakeElement => {
    let el = els.get(id);
    if (!el) els.set(id, (el = element()));
    return el;
  };
  const docListeners = new Map<string, () => void>();
  const winListeners = new Map<string, () => void>();
  const sent: (string | undefined)[] = [];
  const context = vm.createContext({
    location,
    history: {
      replaceState: (_s: unknown, _t: string, url: string) => {
        address = url;
        location.hash = '';
      },
    },
    sessionStorage: { getItem: (k: string) => store.get(k) ?? null, setItem: (k: string, v: string) => void store.set(k, v), removeItem: (k: string) => void store.delete(k) },
    document: { getElementById: $, querySelector: () => element(), addEventListener: (t: string, fn: () => void) => void docListeners.set(t, fn) },
    window: { addEventListener: (t: string, fn: () => void) => void winListeners.set(t, fn) },
    AbortSignal: { timeout: () => undefined },
    // Every call refused, as a master refuses a request without the right token.
    fetch: async (_path: string, init: { headers: Record<string, string> }) => {
      sent.push(init.headers.Authorization);
      return { status: 401, ok: false, json: async () => ({ success: false, error: 'unauthorized' }) };
    },
    setTimeout: () => 0,
    clearTimeout: () => undefined,
    confirm: () => false,
    // charts.js', actions.js' and capacity.js', not under test here.
    renderHistory() {},
    sizeCharts() {},
    renderConnections() {},
    action() {},
    followNote() {},
    ageNote() {},
    setButtons() {},
  });
  for (const file of ['token.js', 'dashboard.js']) vm.runInContext(readFileSync(join(staticDir(), file), 'utf8'), context, { filename: file });
  docListeners.get('DOMContentLoaded')?.();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(sent, [undefined, undefined], 'loaded without a token: asked without one, and the form shows');

  // The operator pastes the link with the token into the address bar of that same tab.
  location.hash = '#token=pasted-token-0123456789';
  address = '/admin#token=pasted-token-0123456789';
  const onHash = winListeners.get('hashchange');
  assert.ok(onHash, 'the page follows a change of its fragment');
  onHash();
  await new Promise((r) => setImmediate(r));
  assert.equal(store.get('corral-admin-token'), 'pasted-token-0123456789');
  assert.equal(address, '/admin', 'the token leaves the address bar and the history');
  assert.deepEqual(sent.slice(2), ['Bearer pasted-token-0123456789', 'Bearer pasted-token-0123456789'], 'and is sent at once');
});
