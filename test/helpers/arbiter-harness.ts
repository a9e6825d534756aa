// The arbiter driven by hand, for the unit tests of the master: a fake spawner stands in for
// fork(), a recording notifier for systemd, a fake clock for time (setup()).

import assert from 'node:assert/strict';
import { loadSettings } from '../../src/config/load.js';
import type { ChildIdentity } from '../../src/config/identity.js';
import type { ChildMessage, MasterMessage } from '../../src/ipc/messages.js';
import { Arbiter, type ArbiterOptions } from '../../src/master/arbiter.js';
import type { Notifier } from '../../src/master/notify.js';
import type { ChildEvents, Spawner } from '../../src/master/spawner.js';
import { captureLogger } from '../fixtures/capture-logger.js';

export interface FakeChild {
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

export function fakeSpawner() {
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

export function recordingNotifier() {
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

export async function setup(env: Record<string, string> = {}, withKeeper = false, options: Partial<ArbiterOptions> = {}) {
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

export const ready = (c: FakeChild) => c.say({ type: 'ready', port: 8080 });
export const beatAll = (cs: readonly FakeChild[]) => cs.forEach((c) => c.say({ type: 'heartbeat', figures: { rssBytes: 1, heapUsedBytes: 1, heapTotalBytes: 1, eventLoopLagMs: 0, activeConnections: 0, requestsServed: 0, errorsServed: 0, latencyP99Ms: 0 } }));
