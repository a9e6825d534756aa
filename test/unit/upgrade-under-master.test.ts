// Upgrading corral under a running master: a new build on disk, then a reload (code-identity.ts,
// keeper-restart.ts, reload-lifecycle.ts). The arbiter's tick driven by hand, as in arbiter.test.ts.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import type { ChildIdentity } from '../../src/config/identity.js';
import type { ChildMessage, MasterMessage } from '../../src/ipc/messages.js';
import { Arbiter, type ArbiterOptions } from '../../src/master/arbiter.js';
import type { Notifier } from '../../src/master/notify.js';
import type { ChildEvents, Spawner } from '../../src/master/spawner.js';
import { captureLogger } from '../fixtures/capture-logger.js';

interface FakeChild {
  identity: ChildIdentity;
  pid: number;
  events: ChildEvents;
  sent: MasterMessage[];
  kills: NodeJS.Signals[];
  /** Set once exit() was called. */
  exited: boolean;
  say(msg: ChildMessage): void;
  /** `forkError`: the child was never created (fork(2) refused), as the spawner reports it. */
  exit(code: number | null, signal?: NodeJS.Signals | null, forkError?: Error): void;
}

function fakeSpawner() {
  const children: FakeChild[] = [];
  let pid = 1000;
  const spawner: Spawner = {
    spawn(identity, _env, events) {
      const child: FakeChild = {
        identity,
        pid: ++pid,
        events,
        sent: [],
        kills: [],
        exited: false,
        say: (msg) => events.onMessage(msg),
        exit: (code, signal = null, forkError) => {
          child.exited = true;
          events.onExit(code, signal, forkError);
        },
      };
      children.push(child);
      return {
        handle: { pid: child.pid, send: (m) => (child.sent.push(m), true), kill: (s) => void child.kills.push(s) },
        stackProbe: undefined,
      };
    },
  };
  return { spawner, children };
}

function recordingNotifier() {
  const calls: string[] = [];
  /** STATUS= lines, apart: they come every 5 s and would hide the calls tests look for. */
  const statuses: string[] = [];
  /** The EXTEND_TIMEOUT_USEC each RELOADING=1 and STOPPING=1 carried, in ms. */
  const timeouts: string[] = [];
  /** The EXTEND_TIMEOUT_USEC sent alone (a reload's later steps), in ms. */
  const extensions: number[] = [];
  /** The STATUS= each STOPPING=1 carried. */
  const stoppingSaid: string[] = [];
  const n: Notifier = {
    ready: (s) => void calls.push(`ready:${s}`),
    reloading: (_s, timeoutMs) => {
      calls.push('reloading');
      timeouts.push(`reloading:${timeoutMs}`);
    },
    extendTimeout: (timeoutMs) => void extensions.push(timeoutMs),
    stopping: (s, timeoutMs) => {
      calls.push('stopping');
      stoppingSaid.push(s);
      timeouts.push(`stopping:${timeoutMs}`);
    },
    status: (s) => void statuses.push(s),
    watchdog: () => void calls.push('watchdog'),
    watchdogIntervalMs: 1000,
    close: () => {},
  };
  return { n, calls, statuses, timeouts, extensions, stoppingSaid };
}

async function setup(env: Record<string, string> = {}, withKeeper = false, options: Partial<ArbiterOptions> = {}) {
  let now = 1_000_000;
  const exits: number[] = [];
  const { spawner, children } = fakeSpawner();
  const { n, calls, statuses, timeouts, extensions, stoppingSaid } = recordingNotifier();
  const log = await captureLogger('worker');
  // No settle time unless a test asks for one: a replacement then lets its predecessor drain at
  // its ready, and the rules of the drain, the boot and the rollback are seen alone.
  const base = { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '2', CORRAL_TIMEOUT: '5', CORRAL_STUCK_STACKS: 'false', CORRAL_RELOAD_SETTLE: '0', ...env };
  const arbiter = new Arbiter({
    loaded: loadSettings({ env: base }),
    reloadSettings: () => loadSettings({ env: { ...base, ...nextEnv } }),
    spawner,
    withKeeper,
    logger: log.logger,
    reopenLogs: (said) => said?.(),
    notifier: n,
    onExit: (code) => void exits.push(code),
    now: () => now,
    // Fake forks take no time: every fork due is forked in the tick, unless a test times them.
    forkClock: () => 0,
    ...options,
  });
  let nextEnv: Record<string, string> = {};
  return {
    arbiter,
    children,
    calls,
    statuses,
    timeouts,
    extensions,
    stoppingSaid,
    exits,
    log,
    advance: (ms: number) => (now += ms),
    /**
     * Lets `ms` pass as the running master sees it: a tick every 250 ms (a gap over a second reads
     * as the master's own pause), `beating` beating before each.
     */
    run: (ms: number, beating: readonly FakeChild[] = []) => {
      for (let left = ms; left > 0; left -= 250) {
        now += Math.min(250, left);
        beatAll(beating);
        arbiter.tick();
      }
    },
    /** Forks the configured workers and has each of them report ready. */
    bootAll: () => {
      arbiter.tick();
      children.forEach(ready);
      arbiter.tick();
    },
    setNextEnv: (e: Record<string, string>) => (nextEnv = e),
    /** Ticks every `stepMs`, the live children beating, until a child is forked; returns how long that took. */
    untilForked: (stepMs: number): number => {
      const forked = children.length;
      let waited = 0;
      while (children.length === forked) {
        assert.ok(waited < 40_000, 'a replacement is forked after the backoff');
        now += stepMs;
        waited += stepMs;
        beatAll(children.filter((c) => !c.exited));
        arbiter.tick();
      }
      return waited;
    },
    /** The keeper, then the workers, fork and report ready; returns the keeper. */
    bootWithKeeper: () => {
      arbiter.tick();
      const keeper = children.find((c) => c.identity.role === 'keeper');
      assert.ok(keeper, 'a keeper was forked');
      keeper.say({ type: 'ready' });
      arbiter.tick();
      children.filter((c) => c.identity.role === 'worker').forEach(ready);
      arbiter.tick();
      return keeper;
    },
    keepers: () => children.filter((c) => c.identity.role === 'keeper'),
    /** Lets time pass, tick by tick with every child beating, until `event` is logged; `each` runs after every step. */
    runUntilLogged: (event: string, each: () => void) => {
      for (let i = 0; i < 200 && !log.lines().some((l) => l.event === event); i++) {
        now += 250;
        arbiter.tick();
        beatAll(children);
        each();
      }
      return log.lines().find((l) => l.event === event);
    },
  } as const;
}

const ready = (c: FakeChild) => c.say({ type: 'ready', port: 8080 });
const beatAll = (cs: readonly FakeChild[]) => cs.forEach((c) => c.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 } }));

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
