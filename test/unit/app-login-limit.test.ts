// The failed-login limit per player name (CORRAL_LOGIN_FAILURES_PER_NAME), in one process: the
// bundled app with its own counters, behind a trusted local proxy so each request can come from
// another client address.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { createLoginLimit, nameHash } from '../../src/app/login-limit.js';
import type { HostCounters } from '../../src/contract.js';
import type { Logger } from '../../src/log/logger.js';
import { createWindowCounters } from '../../src/window-counters.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';

/** A pino logger whose lines are kept, parsed. */
function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), lines };
}

let nextClient = 1;
/** A login from a client address never used before (a distributed guesser). */
function login(app: AppHarness, name: string, code: string): Promise<Response> {
  const n = nextClient++;
  return postJson(`${app.url}/api/login`, { name, code }, { 'x-forwarded-for': `198.51.${Math.floor(n / 250)}.${(n % 250) + 1}` });
}

async function statuses(app: AppHarness, name: string, code: string, times: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < times; i++) {
    const res = await login(app, name, code);
    out.push(res.status);
    await res.body?.cancel();
  }
  return out;
}

describe('failed logins per name', () => {
  let app: AppHarness;
  let lines: Record<string, unknown>[];
  before(async () => {
    const log = capturingLogger();
    lines = log.lines;
    app = await startApp(
      { CORRAL_RATE_LIMIT: '1000', CORRAL_LOGIN_FAILURES_PER_NAME: '3', CORRAL_TRUSTED_PROXIES: '127.0.0.1' },
      createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }),
      { logger: log.logger },
    );
  });
  after(() => app.close());

  it('after N wrong codes from N addresses, even the correct code answers 429 login_locked with Retry-After', async () => {
    assert.deepEqual(await statuses(app, 'Alice', 'wrong', 3), [401, 401, 401]);
    const res = await login(app, 'Alice', 'a-secret-1');
    assert.equal(res.status, 429);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry > 800 && retry <= 900, `Retry-After ${retry}`);
    const body = (await res.json()) as { error: string; message: string };
    assert.equal(body.error, 'login_locked');
    assert.doesNotMatch(body.message, /alice/i);
    // Wrong codes get the same answer.
    assert.deepEqual(await statuses(app, 'Alice', 'wrong', 2), [429, 429]);
  });

  it('counts the name as the lookup compares it (case, spaces, Unicode form)', async () => {
    assert.deepEqual(await statuses(app, 'chloé', 'wrong', 1), [401]);
    assert.deepEqual(await statuses(app, '  CHLOE\u0301 ', 'wrong', 2), [401, 401]);
    assert.deepEqual(await statuses(app, 'Chloé', 'c-secret-3', 1), [429]);
  });

  it('leaves other names alone, and never counts nor locks a name not in the roster', async () => {
    assert.deepEqual(await statuses(app, 'Bob', 'b-secret-2', 1), [200]);
    // Not counted: a flood of made-up names cannot fill the counters (the roster's names are public
    // through GET /api/players, so a 401 that never turns 429 tells nothing).
    assert.deepEqual(await statuses(app, 'Nobody Here', 'wrong', 8), Array(8).fill(401));
    assert.deepEqual(await statuses(app, 'Nobody Here', 'a-secret-1', 1), [401]);
  });

  it('a correct code neither counts nor resets the count', async () => {
    assert.deepEqual(await statuses(app, 'Bob', 'b-secret-2', 5), [200, 200, 200, 200, 200]);
    assert.deepEqual(await statuses(app, 'Bob', 'wrong', 2), [401, 401]);
    assert.deepEqual(await statuses(app, 'Bob', 'b-secret-2', 1), [200]);
    // Two failures before the success still count: one more locks the name.
    assert.deepEqual(await statuses(app, 'Bob', 'wrong', 2), [401, 429]);
  });

  it('logs login.locked once per name and window, with a hash of the name, never the name', () => {
    const locked = lines.filter((l) => l.event === 'login.locked');
    const alice = createHash('sha256').update('alice').digest('hex').slice(0, 32);
    assert.deepEqual(locked.map((l) => l.name_hash).sort(), [alice, nameHash('Bob'), nameHash('chloé')].sort());
    assert.equal(nameHash('  CHLOE\u0301 '), nameHash('chloé'));
    for (const l of locked) {
      assert.equal(l.level, 40, 'warn');
      assert.equal(l.failures, 3);
      assert.equal(l.window_s, 900);
    }
    const text = JSON.stringify(locked);
    for (const name of ['Alice', 'Bob', 'Chlo']) assert.ok(!text.includes(name), `${name} in ${text}`);
  });
});

describe('failed logins per name: only roster names reach the counters', () => {
  it('a login for a name not in the roster asks the counters nothing', async () => {
    const local = createWindowCounters();
    const keys: string[] = [];
    const counters: HostCounters = {
      hit: (key, limit, o) => (keys.push(key), local.hit(key, limit, o)),
      peek: (key, limit, o) => (keys.push(key), local.peek(key, limit, o)),
    };
    const app = await startApp(
      { CORRAL_RATE_LIMIT: '0', CORRAL_LOGIN_FAILURES_PER_NAME: '3' },
      createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }),
      { hostCounters: counters },
    );
    try {
      for (let i = 0; i < 20; i++) assert.deepEqual(await statuses(app, `made-up name ${i}`, 'wrong', 1), [401]);
      assert.deepEqual(keys, []);
      assert.deepEqual(await statuses(app, 'Alice', 'wrong', 1), [401]);
      assert.deepEqual(keys, [`login-name:${nameHash('alice')}`]);
    } finally {
      await app.close();
    }
  });
});

describe('failed logins per name: off, and counters that fail', () => {
  it('CORRAL_LOGIN_FAILURES_PER_NAME=0 turns it off', async () => {
    const app = await startApp({ CORRAL_RATE_LIMIT: '0', CORRAL_LOGIN_FAILURES_PER_NAME: '0' }, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
    try {
      assert.deepEqual(await statuses(app, 'Alice', 'wrong', 12), Array(12).fill(401));
      assert.deepEqual(await statuses(app, 'Alice', 'a-secret-1', 1), [200]);
    } finally {
      await app.close();
    }
  });

  it('keeps its keys apart from client addresses, with a 15-minute window, and reads a correct login without counting it', async () => {
    const local = createWindowCounters();
    const seen: { key: string; limit: number; window: number | undefined; peek: boolean }[] = [];
    const counters: HostCounters = {
      hit: (key, limit, o) => (seen.push({ key, limit, window: o?.windowSeconds, peek: false }), local.hit(key, limit, o)),
      peek: (key, limit, o) => (seen.push({ key, limit, window: o?.windowSeconds, peek: true }), local.peek(key, limit, o)),
    };
    const limit = await createLoginLimit({ failures: 2, logger: capturingLogger().logger, hostCounters: counters });
    assert.ok(limit);
    await limit.settle('Alice', false);
    await limit.settle('Alice', true);
    assert.deepEqual(seen, [
      { key: `login-name:${nameHash('alice')}`, limit: 2, window: 900, peek: false },
      { key: `login-name:${nameHash('alice')}`, limit: 2, window: 900, peek: true },
    ]);
    await limit.settle('Alice', false);
    await assert.rejects(limit.settle('Alice', true), { status: 429, error: 'login_locked' });
  });

  it('lets logins through, and warns once, when the counters do not answer', async () => {
    const log = capturingLogger();
    const broken: HostCounters = { hit: () => Promise.reject(new Error('down')), peek: () => Promise.reject(new Error('down')) };
    const limit = await createLoginLimit({ failures: 1, logger: log.logger, hostCounters: broken });
    assert.ok(limit);
    for (let i = 0; i < 3; i++) await limit.settle('Alice', false);
    await limit.settle('Alice', true);
    assert.deepEqual(
      log.lines.map((l) => [l.event, l.counter]),
      [['ratelimit.unavailable', 'login_failures']],
    );
  });

  it('says when the counters answer again, with how many logins went through unchecked', async () => {
    const log = capturingLogger();
    let down = 3;
    const local = createWindowCounters();
    const flaky: HostCounters = {
      hit: (key, limit, o) => (down-- > 0 ? Promise.reject(new Error('down')) : local.hit(key, limit, o)),
      peek: (key, limit, o) => (down-- > 0 ? Promise.reject(new Error('down')) : local.peek(key, limit, o)),
    };
    const limit = await createLoginLimit({ failures: 5, logger: log.logger, hostCounters: flaky });
    assert.ok(limit);
    for (let i = 0; i < 4; i++) await limit.settle('Alice', false);
    assert.deepEqual(
      log.lines.map((l) => [l.event, l.logins]),
      [
        ['ratelimit.unavailable', 1],
        ['ratelimit.recovered', 3],
      ],
    );
  });
});
