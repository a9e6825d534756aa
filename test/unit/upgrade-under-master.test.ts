// Upgrading corral under a running master: a new build on disk, then a reload (code-identity.ts,
// keeper-restart.ts, reload-lifecycle.ts). The arbiter's tick driven by hand (test/helpers/arbiter-harness.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChildMessage } from '../../src/ipc/messages.js';
import { ready, setup } from '../helpers/arbiter-harness.js';

const CODE_LOAD = (): ChildMessage => ({ type: 'boot-failed', code: 'CORRAL_ERR_CODE_LOAD', message: "corral's own code could not be loaded in a new keeper (SyntaxError: Unexpected end of input): its files changed under the running corral" });

/** Lets time pass until the reload has ended as `event` says, each new keeper failing to load its code. */
function keepersFailToLoad(t: Awaited<ReturnType<typeof setup>>, event: string) {
  return t.runUntilLogged(event, () => {
    const last = t.keepers().at(-1)!;
    if (last.exited) return;
    last.say(CODE_LOAD());
    last.exit(1);
  });
}

test("a reload after an upgrade whose new build's keeper cannot load says so, not that the settings are at fault, and that the build it ran is not there to go back to", async () => {
  // git pull && npm run build with a build that does not load (half written, a missing module),
  // then corral reload. No setting changed: the keeper was restarted for the build alone.
  let build = 'aaaaaaaaaaaa';
  const t = await setup({ CORRAL_BOOT_ATTEMPTS: '3' }, true, { codeIdentity: () => build });
  try {
    const keeper = t.bootWithKeeper();
    build = 'bbbbbbbbbbbb';
    t.arbiter.record('reload');
    t.arbiter.tick();
    keeper.exit(0);
    const failed = keepersFailToLoad(t, 'reload.failed');
    assert.ok(failed, 'the reload is rolled back');
    const msg = String(failed.msg);
    assert.doesNotMatch(msg, /new settings/, `no setting changed: ${msg}`);
    assert.match(msg, /build/, `the build on disk is what the keeper cannot boot: ${msg}`);
    // The rollback cannot bring the keeper of build aaaa back: its code is not on disk any more.
    // Started again, it runs bbbb, which fails as before; the operator must hear that Sheets reads
    // and writes fail until the code on disk loads, not only that generation 1 "keeps serving".
    assert.match(msg, /aaaaaaaaaaaa/, `names the build the keeper ran: ${msg}`);
    assert.match(msg, /no longer on disk/, `says it cannot go back to it: ${msg}`);
  } finally {
    t.log.close();
  }
});

test('an upgrade undone on disk and then made again is said again at the reload that finds it', async () => {
  // reload.code_changed is said once per build, as a setting's change is said once per edit; but
  // an edit made, undone and made again is said each time it is made, and so must a build be:
  // B, then the old build A put back (nothing to say), then B again, said nothing the second time.
  let build = 'aaaaaaaaaaaa';
  const t = await setup({}, true, { codeIdentity: () => build });
  try {
    t.bootWithKeeper();
    const reloadTo = (b: string) => {
      build = b;
      t.arbiter.record('reload');
      t.arbiter.tick();
      // The keeper restarts when its build differs: the new one is ready at once.
      const keeper = t.keepers().at(-1)!;
      if (keeper.sent.some((m) => m.type === 'drain')) {
        keeper.exit(0);
        t.arbiter.tick();
        t.keepers().at(-1)!.say({ type: 'ready' });
      }
      t.run(250);
      t.children.filter((c) => c.identity.role === 'worker' && !c.exited && !c.sent.some((m) => m.type === 'drain')).forEach(ready);
      t.run(250);
      for (const c of t.children.filter((w) => w.identity.role === 'worker' && !w.exited && w.sent.some((m) => m.type === 'drain'))) c.exit(0);
      t.run(250);
    };
    reloadTo('bbbbbbbbbbbb');
    reloadTo('aaaaaaaaaaaa');
    reloadTo('bbbbbbbbbbbb');
    const said = t.log.lines().filter((l) => l.event === 'reload.code_changed');
    assert.deepEqual(said.map((l) => l.on_disk), ['bbbbbbbbbbbb', 'bbbbbbbbbbbb']);
  } finally {
    t.log.close();
  }
});
