// The dashboard's message under its buttons (static/actions.js), run in a bare context with the few
// page functions it calls stood in for: no browser needed for what it says after a change.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import vm from 'node:vm';
import { staticDir } from '../../src/master/admin/static.js';

interface FakeElement {
  id: string;
  textContent: string;
  disabled: boolean;
  dataset: Record<string, string>;
  focus(): void;
}

/** actions.js in a context of its own; `answer` is what the page's api() resolves with ('timeout': no answer in time). */
function page(answer: Record<string, unknown> | 'timeout') {
  const els = new Map<string, FakeElement>();
  const $ = (id: string): FakeElement => {
    let el = els.get(id);
    if (!el) {
      el = { id, textContent: '', disabled: false, dataset: {}, focus() {} };
      els.set(id, el);
    }
    return el;
  };
  class TimeoutError extends Error {}
  const context = vm.createContext({
    $,
    document: { activeElement: null, body: {} },
    api: async () => {
      if (answer === 'timeout') throw new TimeoutError('no answer within 4 s');
      return answer;
    },
    clock: (d: Date) => d.toISOString().slice(11, 19),
    refresh: () => undefined,
    TimeoutError,
    lastStats: null as unknown,
    setTimeout: () => undefined,
  });
  vm.runInContext(readFileSync(join(staticDir(), 'actions.js'), 'utf8'), context, { filename: 'actions.js' });
  return { context, note: () => $('action-result').textContent };
}

/** The stats fields actions.js reads. */
function stats(pid: number, generation: number, workerGenerations: number[]) {
  return {
    master: { pid, generation, stopping: false },
    workers: workerGenerations.map((g) => ({ generation: g, state: 'ready' })),
    workers_ready: workerGenerations.length,
    workers_expected: 2,
  };
}

describe('dashboard: the message after a change', () => {
  it('says a reload followed to its end done, by the same master', async () => {
    const p = page({ success: true, reload: 'started', generation: 2, message: 'reload started: generation 2 is booting' });
    p.context.lastStats = stats(4242, 1, [1, 1]);
    await vm.runInContext(`action('/api/admin/reload')`, p.context);
    vm.runInContext(`followNote(${JSON.stringify(stats(4242, 2, [2, 2]))})`, p.context);
    assert.match(p.note(), /^reload done: generation 2 serves, no older worker left/);
  });

  it('does not call a master restart a rolled-back reload: another master pid marks the message as past', async () => {
    const p = page({ success: true, reload: 'started', generation: 3, message: 'reload started: generation 3 is booting' });
    p.context.lastStats = stats(4242, 2, [2, 2]);
    await vm.runInContext(`action('/api/admin/reload')`, p.context);
    // corral restarted before the reload was done: a new master, generation 1 again.
    vm.runInContext(`followNote(${JSON.stringify(stats(5151, 1, [1, 1]))})`, p.context);
    assert.doesNotMatch(p.note(), /rolled back|could not boot/);
    assert.match(p.note(), /^earlier, at \d\d:\d\d:\d\d: reload started: generation 3 is booting; corral was restarted since \(master pid 4242, now 5151\)/);
  });

  it('does not say of a change the master did not answer that it "was not carried out ... as before" when another master answers', async () => {
    const p = page('timeout');
    p.context.lastStats = stats(4242, 1, [1, 1]);
    await vm.runInContext(`action('/api/admin/workers', { delta: 1 })`, p.context);
    vm.runInContext(`followNote(${JSON.stringify(stats(5151, 1, [1, 1]))})`, p.context);
    assert.doesNotMatch(p.note(), /as before/);
    assert.match(p.note(), /^earlier, at .*: no answer within 4 s: the master may still carry it out.*; corral was restarted since \(master pid 4242, now 5151\)/);
  });
});
