// Upgrading corral under a running master: a new build on disk, then a reload (code-identity.ts,
// keeper-restart.ts, reload-lifecycle.ts). The arbiter's tick driven by hand (test/helpers/arbiter-harness.ts).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChildMessage } from '../../src/ipc/messages.js';
import type { KeeperLoadChecker, KeeperLoadVerdict } from '../../src/master/keeper-load-check.js';
import { ready, setup, type FakeChild } from '../helpers/arbiter-harness.js';

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
  // then corral reload. No setting changed: the keeper was restarted for the build alone. No load
  // check here (as when the files changed again between a check that passed and the keeper's fork).
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

/** A load check (keeper-load-check.ts) whose verdicts the test gives. */
function heldLoadChecks() {
  const runs: { env: Readonly<Record<string, string>>; give: (v: KeeperLoadVerdict) => Promise<void>; cancelled: boolean }[] = [];
  const checker: KeeperLoadChecker = (env) => {
    let resolve: (v: KeeperLoadVerdict) => void = () => undefined;
    const verdict = new Promise<KeeperLoadVerdict>((r) => (resolve = r));
    const run = {
      env,
      cancelled: false,
      // Given, then its callback has run (a turn of the loop).
      give: async (v: KeeperLoadVerdict) => {
        resolve(v);
        await new Promise((r) => setImmediate(r));
      },
    };
    runs.push(run);
    return { verdict, cancel: () => void (run.cancelled = true) };
  };
  return { checker, runs };
}

const NOT_LOADING: KeeperLoadVerdict = {
  loads: false,
  ms: 180,
  error: "SyntaxError: Unexpected token ';' (/opt/corral/dist/src/sheets/keeper/keeper.js:12)",
  stderr: "file:///opt/corral/dist/src/sheets/keeper/keeper.js:12\nconst x = ;\n          ^\n\nSyntaxError: Unexpected token ';'\n",
};

const drains = (c: FakeChild) => c.sent.filter((m) => m.type === 'drain').map((m) => (m.type === 'drain' ? m.reason : ''));

test("a reload after an upgrade whose build does not load the keeper keeps the running keeper and workers, and fails saying what did not load", async () => {
  let build = 'aaaaaaaaaaaa';
  const checks = heldLoadChecks();
  const t = await setup({}, true, { codeIdentity: () => build, keeperLoadCheck: checks.checker });
  try {
    const keeper = t.bootWithKeeper();
    const oldWorkers = t.children.filter((c) => c.identity.role === 'worker');
    // A reload that keeps the keeper checks nothing.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(checks.runs.length, 0, 'no keeper restart, no check');
    t.run(250);
    t.children.filter((c) => c.identity.role === 'worker' && c.identity.generation === 2).forEach(ready);
    t.run(250);
    for (const c of oldWorkers) c.exit(0);
    t.run(250);
    const serving = t.children.filter((c) => c.identity.role === 'worker' && !c.exited);
    assert.deepEqual(serving.map((c) => c.identity.generation), [2, 2]);

    build = 'bbbbbbbbbbbb';
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(checks.runs.length, 1, 'the code on disk is checked to load the keeper');
    assert.equal(checks.runs[0]?.env.CORRAL_WORKERS, '2', "with the new keeper's environment");
    const checking = t.log.lines().find((l) => l.event === 'keeper.load_check');
    assert.deepEqual([checking?.running, checking?.on_disk], ['aaaaaaaaaaaa', 'bbbbbbbbbbbb']);
    // Meanwhile: the keeper is not drained, and no worker of the new generation is forked.
    t.run(2000, [keeper, ...serving]);
    assert.deepEqual(drains(keeper), [], 'the running keeper is not drained before the check');
    assert.equal(t.children.length, 5, 'nothing forked while the check runs');
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'keeper.restart'), []);

    await checks.runs[0]!.give(NOT_LOADING);
    t.arbiter.tick();
    const failed = t.log.lines().filter((l) => l.event === 'reload.failed');
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.code, 'CORRAL_ERR_CODE_LOAD');
    assert.equal(failed[0]?.level, 'error');
    const msg = String(failed[0]?.msg);
    assert.match(msg, /corral's code on disk \(build bbbbbbbbbbbb\) does not load the keeper: SyntaxError: Unexpected token ';' \(\/opt\/corral\/dist\/src\/sheets\/keeper\/keeper\.js:12\)/, msg);
    assert.match(msg, /the running keeper \(build aaaaaaaaaaaa\) is kept, with its cache, quota and write journal/, msg);
    assert.match(msg, /fix or rebuild corral \(npm ci, npm run build\), or put the previous build back, then reload again; generation 2 keeps serving$/, msg);
    assert.deepEqual((failed[0]?.boot_error as { stack?: string }).stack, NOT_LOADING.stderr, 'the loader\'s output, in full');
    const last = t.arbiter.view().reloadState().last;
    assert.deepEqual([last?.outcome, last?.code, last?.generation], ['rolled_back', 'CORRAL_ERR_CODE_LOAD', 2], 'corral reload --wait fails with it');
    assert.equal(t.arbiter.view().reloadState().inProgress, undefined);
    assert.ok(t.calls.at(-1)?.startsWith('ready:'), "systemd's reload ends");

    // Afterwards: the same keeper and workers serve on, and no other is started.
    t.run(5000, [keeper, ...serving]);
    assert.deepEqual(drains(keeper), []);
    assert.deepEqual(keeper.kills, []);
    assert.deepEqual(serving.map(drains), [[], []], 'the serving workers are not drained');
    assert.equal(t.children.length, 5, 'no keeper or worker forked');

    // The build repaired: the next reload checks again, and then restarts the keeper as before.
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(checks.runs.length, 2);
    assert.deepEqual(drains(keeper), []);
    await checks.runs[1]!.give({ loads: true, ms: 150 });
    t.arbiter.tick();
    assert.deepEqual(drains(keeper), ['reload: new build of corral']);
    const restart = t.log.lines().find((l) => l.event === 'keeper.restart');
    assert.deepEqual(restart?.code, { running: 'aaaaaaaaaaaa', on_disk: 'bbbbbbbbbbbb' });
    keeper.exit(0);
    t.arbiter.tick();
    assert.equal(t.keepers().length, 2, 'a keeper of the new build');
  } finally {
    t.log.close();
  }
});

test("a reload whose keeper settings changed too, and whose code on disk does not load the keeper, rolls back without restarting the keeper it kept", async () => {
  const checks = heldLoadChecks();
  const t = await setup({}, true, { keeperLoadCheck: checks.checker });
  try {
    const keeper = t.bootWithKeeper();
    // A setting the keeper reads: restarted for that alone, from the code on disk (npm ci halfway).
    t.setNextEnv({ SHEET_CACHE_TTL: '42' });
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(checks.runs.length, 1);
    assert.equal(checks.runs[0]?.env.SHEET_CACHE_TTL, '42');
    await checks.runs[0]!.give({ loads: false, ms: 90, error: "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'pino' imported from /opt/corral/dist/src/log/logger.js", stderr: '' });
    t.arbiter.tick();
    assert.match(String(t.log.lines().find((l) => l.event === 'reload.failed')?.msg), /does not load the keeper: Error \[ERR_MODULE_NOT_FOUND\]: Cannot find package 'pino'/);
    // Going back to the old settings is no restart either: the keeper never left them.
    t.run(3000, t.children);
    assert.deepEqual(drains(keeper), []);
    assert.deepEqual(t.log.lines().filter((l) => l.event === 'keeper.restart'), []);
    assert.equal(t.keepers().length, 1);
  } finally {
    t.log.close();
  }
});

test('a stop during the check that the code on disk loads the keeper ends the check, waits for nothing of it, and starts nothing after it', async () => {
  let build = 'aaaaaaaaaaaa';
  const checks = heldLoadChecks();
  const t = await setup({ CORRAL_GRACEFUL_TIMEOUT: '5' }, true, { codeIdentity: () => build, keeperLoadCheck: checks.checker });
  try {
    const keeper = t.bootWithKeeper();
    const workers = t.children.filter((c) => c.identity.role === 'worker');
    build = 'bbbbbbbbbbbb';
    t.arbiter.record('reload');
    t.arbiter.tick();
    assert.equal(checks.runs.length, 1);
    t.arbiter.record('stop');
    t.arbiter.tick();
    assert.equal(checks.runs[0]?.cancelled, true, "the check's process is ended");
    for (const w of workers) assert.equal(drains(w).length, 1, 'the workers drain for the stop');
    // The check's verdict comes all the same: the keeper is not restarted for it.
    await checks.runs[0]!.give({ loads: true, ms: 400 });
    t.arbiter.tick();
    assert.deepEqual(drains(keeper), [], 'the keeper waits for the workers, as in any stop');
    for (const w of workers) w.exit(0);
    t.run(500, [keeper]);
    assert.equal(drains(keeper).length, 1, 'then drained by the stop');
    assert.notEqual(drains(keeper)[0], 'reload: new build of corral');
    keeper.exit(0);
    t.run(500);
    assert.equal(t.children.length, 3, 'nothing forked after the stop began');
    assert.deepEqual(t.exits, [0]);
    assert.equal(checks.runs.length, 1);
  } finally {
    t.log.close();
  }
});
