// The keeper's link to a real redis-server that answers but refuses what it is asked: a database
// it does not have, a user that may not run scripts, a wrong password. The keeper must never fall back to another
// database (its keys would mix with whatever lives there, and hosts configured alike would not
// share); a refusal is no outage that any command answered ends: it acts alone, as with Redis
// away, says why and how to fix it once, and shares again only once the refused command works.
// And one that hangs with its connection open: not connected, as the figures say, from the first
// command that timed out until it answers again, which the link notices by itself.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { RedisLink } from '../../src/redis/link.js';
import { REDIS_PROBE_MS, REDIS_RECOVERED_AFTER_MS } from '../../src/redis/link-options.js';
import { probeRedis } from '../../src/redis/probe.js';
import { KEEPER_ACL } from '../../src/redis/refusal.js';
import type { SheetsBackend } from '../../src/sheets/backend.js';
import { sharedPrefix } from '../../src/sheets/keeper/shared-keys.js';
import { SharedLogins } from '../../src/sheets/keeper/shared-logins.js';
import { SharedQuota, type SharedQuotaOptions } from '../../src/sheets/keeper/shared-quota.js';
import { SharedRanges } from '../../src/sheets/keeper/shared-ranges.js';
import { SheetSharing, type SharingSettings } from '../../src/sheets/keeper/sheet-sharing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
import { FakeClock } from '../fixtures/fake-clock.js';
import { waitFor } from '../helpers/corral.js';
import { redisMissing, redisPerSuite } from '../helpers/redis-server.js';

const SETTINGS: Omit<SharingSettings, 'REDIS_URL'> = {
  REDIS_TLS_CA_FILE: undefined,
  SHEET_CACHE_TTL: 30,
  SHEET_CACHE_MAX_STALE: 60,
  SHEETS_READS_PER_MINUTE: 6,
  SHEETS_WRITES_PER_MINUTE: 6,
  SHEETS_TIMEOUT: 5,
};
const BACKEND = { kind: 'google', source: 'google sheet-1 via emulator' } as unknown as SheetsBackend;
/** Only there to fail rather than hang: what is waited for does not depend on how fast the machine is. */
const PATIENCE_MS = 30_000;

/**
 * A SharedQuota whose presence ticks (a setInterval, every 5 s) never come: once it has said it
 * is present at its start, only the link's probe asks Redis without a call, which these tests
 * watch. (Either could end an outage; which one did was told by a bound on the wall clock.)
 */
function quotaWithoutPresenceTicks(o: SharedQuotaOptions): SharedQuota {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    return new SharedQuota(o);
  } finally {
    mock.timers.reset();
  }
}

describe('the Redis link, refused by the server', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const opened: SheetSharing[] = [];
  const links: RedisLink[] = [];
  const quotas: SharedQuota[] = [];
  /** The link's log lines about Redis, by event. */
  const redisEvents = () => log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.'));

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    for (const q of quotas.splice(0)) q.close();
    for (const l of links.splice(0)) await l.close();
    log.close();
  });

  it("a database the server does not have (…?db=16 of 16): nothing is written to database 0 or any other; the keeper acts alone, says once which database and Redis's error, and its figures say not connected", async () => {
    const sharing = await SheetSharing.open({ ...SETTINGS, REDIS_URL: `${server().url}?db=16` }, BACKEND, log.logger);
    assert.ok(sharing);
    opened.push(sharing);
    // open() waited for the connection, whose SELECT came back refused before it was ready (or
    // for its 2 s; the refusal is then said once it comes: waited for here).
    await waitFor(() => log.lines().some((l) => l.event === 'redis.misconfigured'), PATIENCE_MS, 'redis.misconfigured');
    await sharing.quota.take('read');
    await sharing.ranges.put('Players', Buffer.from('[["name"]]'), Date.now(), Date.now());
    assert.equal(await sharing.ranges.get('Players'), undefined);
    assert.equal(server().cli('DBSIZE').trim(), '0', 'nothing written to database 0');
    const figures = sharing.figures();
    assert.equal(figures.redisConnected, false);
    assert.equal(figures.redisRefused, 'database', 'said refused, not away');
    assert.equal(figures.aloneQuotaGrants, 1, 'the call went on alone');
    assert.equal(figures.sharedQuotaGrants, 0);
    const said = log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.'));
    assert.deepEqual(
      said.map((l) => l.event),
      ['redis.misconfigured'],
      'one line, and neither connected nor recovered',
    );
    assert.equal(said[0]?.code, 'CORRAL_ERR_REDIS_REFUSED');
    assert.equal(said[0]?.level, 'error');
    assert.match(String(said[0]?.msg), /database 16/);
    assert.match(String(said[0]?.msg), /DB index is out of range/);
  });

  it("a user with the ACL the fix names (its commands, scripts' own included) passes corral check and shares, in its database, with no line of ioredis's own; one granted scripts and a few plain commands only is told which commands, and one without SELECT is not told its database does not exist", async () => {
    server().cli('ACL', 'SETUSER', 'keeperacl', 'on', '>pw', ...KEEPER_ACL.split(' '));
    server().cli('ACL', 'SETUSER', 'fewcmds', 'on', '>pw', '~corral:*', '+eval', '+evalsha', '+script', '+get', '+set', '+exists', '+del', '+info', '+select');
    server().cli('ACL', 'SETUSER', 'noselect', 'on', '>pw', '~corral:*', '+@all', '-select');
    const warned = mock.method(console, 'warn', () => undefined);
    try {
      const url = `${server().url}?db=1&user=keeperacl&password=pw`;
      const checked = await probeRedis(url, sharedPrefix('acl'));
      assert.equal(checked.ok, true, JSON.stringify(checked));
      const link = new RedisLink({ url, logger: log.logger });
      links.push(link);
      assert.equal(await link.whenReady(PATIENCE_MS), true);
      const prefix = sharedPrefix('google sheet-1 via emulator');
      const quota = new SharedQuota({ link, prefix, perMinute: { read: 6, write: 6 }, logger: log.logger });
      quotas.push(quota);
      await quota.take('read');
      assert.equal(quota.figures().sharedQuotaGrants, 1, JSON.stringify(redisEvents()));
      assert.equal(link.sharing, true);
      assert.deepEqual(warned.mock.calls.map((c) => String(c.arguments[0])), [], 'no raw line of ioredis (its ready check needs INFO)');

      const few = new RedisLink({ url: `${server().url}?user=fewcmds&password=pw`, logger: log.logger });
      links.push(few);
      assert.equal(await few.whenReady(PATIENCE_MS), true);
      const fewQuota = new SharedQuota({ link: few, prefix, perMinute: { read: 6, write: 6 }, logger: log.logger });
      quotas.push(fewQuota);
      await fewQuota.take('read');
      const refused = redisEvents().find((l) => l.event === 'redis.misconfigured');
      assert.equal(refused?.refused, 'keys', JSON.stringify(refused));
      assert.match(String(refused?.msg), /\+time .*\+zadd/);
      // corral check said OK to this user: its probe ran EVAL, SET and DEL, none of the commands
      // the scripts call, which Redis checks against the ACL too.
      const fewChecked = await probeRedis(`${server().url}?user=fewcmds&password=pw`, sharedPrefix('acl'));
      assert.equal(fewChecked.ok, false, JSON.stringify(fewChecked));
      assert.equal(fewChecked.ok ? undefined : fewChecked.refused, true);
      assert.match(fewChecked.ok ? '' : fewChecked.message, /^a script calling the keeper's scripts' commands failed: .*can't run this command.*\+time .*\+zadd/);
      assert.equal(server().cli('--scan', '--pattern', 'corral:*check*').trim(), '', 'nothing left behind');
      // The plain commands the keeper sends outside its scripts (EXISTS of another host's claim,
      // PING while Redis does not answer) are asked too: refused, each pauses the sharing.
      for (const command of ['+exists', '+ping']) {
        server().cli('ACL', 'SETUSER', 'nocmd', 'reset', 'on', '>pw', ...KEEPER_ACL.split(' ').filter((c) => c !== command));
        const without = await probeRedis(`${server().url}?user=nocmd&password=pw`, sharedPrefix('acl'));
        assert.equal(without.ok, false, `${command}: ${JSON.stringify(without)}`);
        assert.equal(without.ok ? undefined : without.refused, true, command);
        assert.match(without.ok ? '' : without.message, new RegExp(`NOPERM.*'${command.slice(1)}'.*${command.replace('+', '\\+')}`), command);
        assert.equal(server().cli('--scan', '--pattern', 'corral:*check*').trim(), '', `${command}: nothing left behind`);
      }

      const noSelect = await probeRedis(`${server().url}?db=1&user=noselect&password=pw`, sharedPrefix('acl'));
      assert.equal(noSelect.ok, false);
      assert.match(noSelect.ok ? '' : noSelect.message, /NOPERM.*may not SELECT database 1.*\+select/);
      assert.doesNotMatch(noSelect.ok ? '' : noSelect.message, /not one this server has/);
    } finally {
      warned.mock.restore();
      for (const u of ['keeperacl', 'fewcmds', 'noselect', 'nocmd']) server().cli('ACL', 'DELUSER', u);
    }
  });

  it("a user whose ACL runs the failed-login script but not the quota's (+@read +@write +@scripting: no TIME): a login count answered does not end the quota's refusal; one line, no recovered in turn, not sharing; the quota's script answered once granted does", async () => {
    server().cli('ACL', 'SETUSER', 'notime', 'on', '>pw', '~corral:*', '+@read', '+@write', '+@scripting', '+@connection', '+info');
    try {
      const link = new RedisLink({ url: `${server().url}?user=notime&password=pw`, logger: log.logger, pauseAfterFailureMs: 0 });
      links.push(link);
      assert.equal(await link.whenReady(PATIENCE_MS), true);
      const prefix = sharedPrefix('google sheet-1 via emulator');
      const quota = quotaWithoutPresenceTicks({ link, prefix, perMinute: { read: 6, write: 6 }, logger: log.logger });
      quotas.push(quota);
      const logins = new SharedLogins({ link, prefix });
      for (let i = 0; i < 3; i++) {
        await quota.take('read');
        assert.equal(link.sharing, false, 'the quota refused');
        assert.ok(await logins.settle('b'.repeat(32), false, 900_000), 'the login count is answered');
        assert.ok(await logins.settle('b'.repeat(32), true, 900_000));
        assert.equal(link.sharing, false, 'still refused: the login script says nothing of TIME and ZADD');
      }
      assert.equal(quota.figures().sharedQuotaGrants, 0);
      assert.deepEqual(redisEvents().map((l) => l.event), ['redis.connected', 'redis.misconfigured'], JSON.stringify(redisEvents()));
      server().cli('ACL', 'SETUSER', 'notime', '+time');
      await quota.take('read');
      assert.equal(quota.figures().sharedQuotaGrants, 1);
      assert.equal(link.sharing, true);
      assert.deepEqual(redisEvents().map((l) => l.event), ['redis.connected', 'redis.misconfigured', 'redis.recovered']);
    } finally {
      server().cli('ACL', 'DELUSER', 'notime');
    }
  });

  it("a user that may not run scripts (ACL … -eval -evalsha -script): one error naming NOPERM and the fix; a plain command answered (a cached range's GET) does not end it; a script answered once the ACL allows them does", async () => {
    server().cli('ACL', 'SETUSER', 'noscript', 'on', '>pw', '~*', '+@all', '-eval', '-evalsha', '-script');
    try {
      // No pause after a failed command: every call below reaches Redis.
      const link = new RedisLink({ url: `${server().url}?user=noscript&password=pw`, logger: log.logger, pauseAfterFailureMs: 0 });
      links.push(link);
      assert.equal(await link.whenReady(PATIENCE_MS), true);
      const prefix = sharedPrefix('google sheet-1 via emulator');
      const quota = new SharedQuota({ link, prefix, perMinute: { read: 6, write: 6 }, logger: log.logger });
      quotas.push(quota);
      const ranges = new SharedRanges({ link, prefix, keepMs: 90_000, claimMs: 5000, ownerId: 'host-a', logger: log.logger });
      await quota.take('read');
      assert.equal(quota.figures().aloneQuotaGrants, 1, 'refused: the call went on alone');
      // A plain command works for this user: it says nothing of the scripts.
      assert.equal(await ranges.get('Players'), undefined);
      assert.equal(link.sharing, false, 'not sharing: the quota cannot be');
      await quota.take('read');
      assert.equal(await ranges.get('Players'), undefined);
      assert.equal(quota.figures().aloneQuotaGrants, 2);
      assert.equal(quota.figures().sharedQuotaGrants, 0);
      const said = redisEvents();
      assert.deepEqual(
        said.map((l) => l.event),
        ['redis.connected', 'redis.misconfigured'],
        'one line for the refusal: neither unavailable nor recovered, however often a plain command is answered',
      );
      assert.equal(said[1]?.code, 'CORRAL_ERR_REDIS_REFUSED');
      assert.equal(said[1]?.level, 'error');
      assert.equal(said[1]?.refused, 'scripts');
      assert.match(String(said[1]?.msg), /NOPERM/);
      assert.match(String(said[1]?.msg), /\+eval \+evalsha \+script/);
      assert.ok(!JSON.stringify(said).includes('pw@') && !JSON.stringify(said).includes('password=pw'), 'the password is not logged');
      // Fixed on the server: the next script is answered, and that ends it.
      server().cli('ACL', 'SETUSER', 'noscript', '+eval', '+evalsha', '+script');
      await quota.take('read');
      assert.equal(quota.figures().sharedQuotaGrants, 1);
      assert.equal(link.sharing, true);
      assert.deepEqual(
        redisEvents().map((l) => l.event),
        ['redis.connected', 'redis.misconfigured', 'redis.recovered'],
      );
    } finally {
      server().cli('ACL', 'DELUSER', 'noscript');
    }
  });
  it("a Redis that refuses writes (memory full, noeviction) though PING and GET work: one error naming OOM and the fix, not connected throughout, no unavailable or recovered in turn; a write of the keeper's that works again ends it within about a second", async () => {
    // Short probe and pause: several rounds of each while memory stays full.
    const link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: 300, probeMs: 200 });
    links.push(link);
    assert.equal(await link.whenReady(PATIENCE_MS), true);
    const prefix = sharedPrefix('google sheet-1 via emulator');
    const quota = quotaWithoutPresenceTicks({ link, prefix, perMinute: { read: 60, write: 60 }, logger: log.logger });
    quotas.push(quota);
    const ranges = new SharedRanges({ link, prefix, keepMs: 90_000, claimMs: 5000, ownerId: 'host-a', logger: log.logger });
    await quota.take('read');
    assert.equal(quota.figures().sharedQuotaGrants, 1);
    server().cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    server().cli('CONFIG', 'SET', 'maxmemory', '1');
    try {
      assert.match(server().cli('SET', 'x', '1'), /OOM/, 'writes refused');
      assert.match(server().cli('PING'), /PONG/, 'PING answered');
      await quota.take('read');
      assert.equal(quota.figures().aloneQuotaGrants, 1, 'refused: the call went on alone');
      // Two seconds: ten probes, several pauses over, calls and GETs between them. Not sharing at
      // any moment of it (PING and GET answered ended it each time, and it flipped back).
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        assert.equal(link.sharing, false, 'not sharing while Redis refuses writes');
        await ranges.get('Players');
        await new Promise((r) => setTimeout(r, 50));
      }
      await quota.take('read');
      assert.equal(quota.figures().sharedQuotaGrants, 1, 'every call alone meanwhile');
      const said = redisEvents();
      assert.deepEqual(
        said.map((l) => l.event),
        ['redis.connected', 'redis.misconfigured'],
        'one line for it: neither unavailable nor recovered',
      );
      assert.equal(said[1]?.code, 'CORRAL_ERR_REDIS_REFUSED');
      assert.equal(said[1]?.refused, 'writes');
      assert.match(String(said[1]?.msg), /OOM/);
      assert.match(String(said[1]?.fix), /raise maxmemory/);
    } finally {
      server().cli('CONFIG', 'SET', 'maxmemory', '0');
    }
    // Memory free again: the link's probe (the keeper's presence, a write) ends it, with no call.
    // Nothing else asks Redis now (no call, the quota's presence ticks held): sharing again is the
    // probe's doing, a probe interval of 200 ms being what makes it within about a second.
    await waitFor(() => link.sharing, PATIENCE_MS, 'sharing again');
    assert.deepEqual(
      redisEvents().map((l) => l.event),
      ['redis.connected', 'redis.misconfigured', 'redis.recovered'],
    );
    await quota.take('read');
    assert.equal(quota.figures().sharedQuotaGrants, 2);
  });

  it("a wrong password: said once as refused (login) with the fix, not as an outage, however often the link reconnects; a password the server accepts then ends it", async () => {
    server().cli('ACL', 'SETUSER', 'corral', 'on', '>right', '~*', '+@all');
    try {
      const link = new RedisLink({ url: `${server().url}?user=corral&password=wrong`, logger: log.logger });
      links.push(link);
      assert.equal(await link.whenReady(1500), false, 'not connected');
      // Reconnecting meanwhile (100, 200, 400, 800 ms apart), each time refused again.
      assert.equal(link.sharing, false);
      const said = redisEvents();
      assert.deepEqual(
        said.map((l) => l.event),
        ['redis.misconfigured'],
        'one line: no redis.unavailable, for the login or the connection closed after it',
      );
      assert.equal(said[0]?.code, 'CORRAL_ERR_REDIS_REFUSED');
      assert.equal(said[0]?.level, 'error');
      assert.equal(said[0]?.refused, 'login');
      assert.match(String(said[0]?.msg), /WRONGPASS/);
      assert.match(String(said[0]?.fix), /user and password of REDIS_URL/);
      assert.ok(!JSON.stringify(said).includes('wrong'.concat('@')) && !JSON.stringify(said).includes('password=wrong'), 'the password is not logged');
      // The server now takes that password: the next reconnection is ready, and says so.
      server().cli('ACL', 'SETUSER', 'corral', '>wrong');
      assert.equal(await link.whenReady(PATIENCE_MS), true);
      assert.equal(link.sharing, true);
      assert.deepEqual(
        redisEvents().map((l) => l.event),
        ['redis.misconfigured', 'redis.connected', 'redis.recovered'],
      );
    } finally {
      server().cli('ACL', 'DELUSER', 'corral');
    }
  });

  it("a wrong password with a database in REDIS_URL (…/1, a server with requirepass): the SELECT's NOAUTH is the same refused login, not a database the server lacks; said once however often it reconnects, and the figures say login", async () => {
    // requirepass: the default user is not logged in until its AUTH works, so the SELECT of the
    // database sent after a refused AUTH is refused too (NOAUTH), on every connection.
    server().cli('CONFIG', 'SET', 'requirepass', 'right');
    const cli = (...args: string[]) => server().cli('-a', 'right', '--no-auth-warning', ...args);
    try {
      const link = new RedisLink({ url: `${server().url}?db=1&password=wrong`, logger: log.logger });
      links.push(link);
      // 1.5 s: reconnecting 100, 200, 400, 800 ms apart, each connection refused again. The
      // audit saw a login line and a database line (fix: "database 1 … is not one this server
      // has") at every reconnection, each a new kind said at once, and `corral status` saying
      // "Redis refuses the database in REDIS_URL".
      assert.equal(await link.whenReady(1500), false, 'not connected');
      const said = redisEvents();
      assert.deepEqual(said.map((l) => `${String(l.event)} ${String(l.refused)}`), ['redis.misconfigured login'], 'one line, the login');
      assert.match(String(said[0]?.msg), /WRONGPASS/);
      assert.equal(link.refusedKind, 'login');
      assert.equal(link.sharing, false);
      cli('CONFIG', 'SET', 'requirepass', 'wrong');
      assert.equal(await link.whenReady(PATIENCE_MS), true);
      assert.equal(link.refusedKind, undefined);
      assert.equal(link.sharing, true);
      assert.deepEqual(redisEvents().map((l) => l.event), ['redis.misconfigured', 'redis.connected', 'redis.recovered']);
    } finally {
      server().cli('-a', 'wrong', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '');
      cli('CONFIG', 'SET', 'requirepass', '');
    }
  });

  it('refused, then down, then back taking it (a restarted Redis without the password it refused): one recovered line, at the outage\'s end, counting both', async () => {
    server().cli('CONFIG', 'SET', 'requirepass', 'right');
    const link = new RedisLink({ url: `${server().url}?password=wrong`, logger: log.logger, recoveredAfterMs: 300 });
    links.push(link);
    await waitFor(() => redisEvents().some((l) => l.event === 'redis.misconfigured' && l.refused === 'login') || undefined, PATIENCE_MS, 'the refused login');
    await server().kill();
    await waitFor(() => redisEvents().some((l) => l.event === 'redis.unavailable') || undefined, PATIENCE_MS, 'redis.unavailable');
    // Back empty, with no password: the one REDIS_URL gives is not asked for (a warning), and it connects.
    await server().restart();
    assert.equal(await link.whenReady(PATIENCE_MS), true);
    await waitFor(() => redisEvents().some((l) => l.event === 'redis.recovered') || undefined, PATIENCE_MS, 'redis.recovered');
    // Past the settle time again: a second line would have come by now.
    await new Promise((r) => setTimeout(r, 900));
    const recovered = redisEvents().filter((l) => l.event === 'redis.recovered');
    assert.equal(recovered.length, 1, `one return, one line: ${JSON.stringify(redisEvents().map((l) => [l.event, l.failures]))}`);
    const failures = redisEvents().filter((l) => l.event === 'redis.misconfigured' || l.event === 'redis.unavailable').reduce((n, l) => n + Number(l.failures ?? 0), 0);
    assert.ok(Number(recovered[0]?.failures) >= failures, `its failures (${String(recovered[0]?.failures)}) count the refusal's and the outage's (${failures} said before)`);
  });

  it("corral check's probe, a wrong password with a database in REDIS_URL: says Redis's WRONGPASS for the login, not the SELECT's NOAUTH after it", async () => {
    server().cli('CONFIG', 'SET', 'requirepass', 'right');
    try {
      const probe = await probeRedis(`${server().url}?db=2&password=wrong`, 'corral:{test}');
      assert.equal(probe.ok, false);
      assert.ok(!probe.ok && probe.refused);
      assert.match(probe.ok ? '' : probe.message, /^connect failed: WRONGPASS .*user and password of REDIS_URL/);
    } finally {
      server().cli('-a', 'right', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '');
    }
  });

  it("a database the server lacks once the password is accepted (a wrong password, then the right one, …/16): said as the database, with its fix, and nothing written to database 0", async () => {
    server().cli('CONFIG', 'SET', 'requirepass', 'right');
    try {
      const link = new RedisLink({ url: `${server().url}?db=16&password=wrong`, logger: log.logger });
      links.push(link);
      assert.equal(await link.whenReady(1000), false);
      assert.equal(link.refusedKind, 'login');
      server().cli('-a', 'right', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', 'wrong');
      await waitFor(() => link.refusedKind === 'database', PATIENCE_MS, 'refused: database');
      assert.deepEqual(redisEvents().map((l) => `${String(l.event)} ${String(l.refused)}`), ['redis.misconfigured login', 'redis.misconfigured database']);
      assert.equal(link.sharing, false);
      assert.equal(server().cli('-a', 'wrong', '--no-auth-warning', 'DBSIZE').trim(), '0', 'nothing written to database 0');
    } finally {
      server().cli('-a', 'wrong', '--no-auth-warning', 'CONFIG', 'SET', 'requirepass', '');
    }
  });
});

describe('the Redis link, hanging', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const links: RedisLink[] = [];
  const quotas: SharedQuota[] = [];

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const q of quotas.splice(0)) q.close();
    for (const l of links.splice(0)) await l.close();
    log.close();
  });

  it('frozen with its connection open (SIGSTOP): from the first command timed out, the figures say not connected while the host acts alone, past the pause too; once it answers again, sharing resumes within about a second without a call', async () => {
    // The link's pause, probes and settle run on a clock the test moves (its commands' timeouts
    // stay real: Redis is really frozen). A pause shorter than the freeze: the figures must not
    // say connected once it has passed.
    const clock = new FakeClock(Date.now());
    const link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: 500, clock });
    links.push(link);
    assert.equal(await link.whenReady(PATIENCE_MS), true);
    const quota = quotaWithoutPresenceTicks({ link, prefix: sharedPrefix('google sheet-1 via emulator'), perMinute: { read: 60, write: 60 }, logger: log.logger });
    quotas.push(quota);
    await quota.take('read');
    assert.equal(quota.figures().sharedQuotaGrants, 1);
    assert.equal(link.sharing, true);
    // Past the pause, short of the link's next probe (REDIS_PROBE_MS after the failure).
    const pastPause = 700;
    // No redis-cli while it is frozen: spawnSync would wait on it.
    server().pause();
    try {
      await quota.take('read');
      assert.equal(quota.figures().aloneQuotaGrants, 1, 'timed out: the call went on alone');
      assert.equal(link.sharing, false, 'acting alone: not connected, as the figures say');
      await clock.advance(pastPause);
      assert.equal(link.sharing, false, 'still frozen, the pause over: still not connected');
    } finally {
      server().resume();
    }
    // Redis answers again; no call is made, and nothing has asked it since it did.
    assert.equal(link.sharing, false, 'not before something asked');
    // The link's probe, a probe interval (1 s) after the failure on its clock, asks by itself. (To
    // that moment exactly: the answer is then heard at it, whenever it comes.)
    await clock.advance(REDIS_PROBE_MS - pastPause);
    await waitFor(() => link.sharing, PATIENCE_MS, "sharing again at the link's probe, with no call made");
    // Said once it has answered for a while (REDIS_RECOVERED_AFTER_MS on the link's clock), not
    // before: it might stall again.
    await clock.advance(REDIS_RECOVERED_AFTER_MS - 1);
    assert.ok(!log.lines().some((l) => l.event === 'redis.recovered'), 'not said before it answered for REDIS_RECOVERED_AFTER_MS');
    await clock.advance(21);
    assert.ok(log.lines().some((l) => l.event === 'redis.recovered'), 'said once it answered for REDIS_RECOVERED_AFTER_MS');
    const said = log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.'));
    assert.deepEqual(
      said.map((l) => l.event),
      ['redis.connected', 'redis.unavailable', 'redis.recovered'],
    );
    // Connected all along: the line says Redis was too slow, and where to look, not only ioredis's
    // "Command timed out" after "unreachable", which sent the operator to a network that worked.
    assert.match(String(said[1]?.msg), /Command timed out: no answer within 1 s on an open connection: Redis busy .*SLOWLOG/);
  });
  it("stalling again and again (frozen for a moment, answering for less than the settle time, several times): one unavailable line, no recovered line while it goes on, and one once it has answered for a while", async () => {
    // How long it answers between stalls, and since the last, is the link's clock's, which the
    // test moves: a busy machine's late steps no longer stretch a 300 ms answer past the settle
    // time. Its commands' timeouts stay real (Redis is really frozen).
    const settleMs = 1500;
    const probeMs = 100;
    const clock = new FakeClock(Date.now());
    const link = new RedisLink({ url: server().url, logger: log.logger, pauseAfterFailureMs: 300, probeMs, recoveredAfterMs: settleMs, clock });
    links.push(link);
    assert.equal(await link.whenReady(PATIENCE_MS), true);
    const quota = quotaWithoutPresenceTicks({ link, prefix: sharedPrefix('google sheet-1 via emulator'), perMinute: { read: 600, write: 600 }, logger: log.logger });
    quotas.push(quota);
    await quota.take('read');
    const recovered = () => log.lines().filter((l) => l.event === 'redis.recovered');
    for (let i = 0; i < 4; i++) {
      server().pause();
      try {
        await quota.take('read');
        assert.equal(link.sharing, false, `stall ${i}: acting alone`);
      } finally {
        server().resume();
      }
      // The link's next probe finds it answering.
      await clock.advance(probeMs);
      await waitFor(() => link.sharing, PATIENCE_MS, `stall ${i}: sharing again once it answers`);
      // It answers for a moment, half the settle time, then stalls again.
      if (i < 3) await clock.advance(settleMs / 2);
      assert.deepEqual(recovered(), [], `stall ${i}: no recovered line while it keeps stalling`);
    }
    // Said once it has answered for the settle time since it last began to, and not before.
    await clock.advance(settleMs - 1);
    assert.deepEqual(recovered(), [], 'not said before it answered for the settle time');
    await clock.advance(21);
    assert.equal(recovered().length, 1, 'said once it answered for the settle time');
    assert.deepEqual(
      log.lines().filter((l) => typeof l.event === 'string' && l.event.startsWith('redis.')).map((l) => l.event),
      ['redis.connected', 'redis.unavailable', 'redis.recovered'],
    );
    assert.ok(Number(recovered()[0]?.failures) >= 4, 'every stall counted in it');
  });
});
