import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { displayValue } from '../../src/config/shown-value.js';
import { ConfigError, CorralError } from '../../src/errors.js';
import { redisTarget, shownRedisUrl } from '../../src/redis/url.js';

describe('REDIS_URL', () => {
  it('reads redis://, rediss:// and unix:// URLs, and never shows the password', () => {
    assert.deepEqual(redisTarget('redis://10.0.0.5:6380/2'), { options: { host: '10.0.0.5', port: 6380, db: 2 }, shown: 'redis://10.0.0.5:6380/2' });
    assert.deepEqual(redisTarget('redis://redis.internal'), { options: { host: 'redis.internal', port: 6379 }, shown: 'redis://redis.internal' });
    const tls = redisTarget('rediss://corral:s3cret@cache.example:6390');
    assert.deepEqual(tls.options, { host: 'cache.example', port: 6390, username: 'corral', password: 's3cret', tls: { servername: 'cache.example' } });
    assert.equal(tls.shown, 'rediss://corral:***@cache.example:6390');
    const unix = redisTarget('unix:///run/redis/redis.sock?db=3&password=pw');
    assert.deepEqual(unix.options, { path: '/run/redis/redis.sock', password: 'pw', db: 3 });
    assert.ok(!unix.shown.includes('pw'), unix.shown);
    assert.deepEqual(redisTarget('redis://[::1]:6379').options, { host: '::1', port: 6379 });
  });

  it('never shows a user with no password (a password written without its colon) nor a query parameter it does not read, and says so when the settings load', () => {
    const bare = redisTarget('rediss://Pw6LEAK@cache.example');
    assert.equal(bare.shown, 'rediss://***@cache.example');
    assert.deepEqual(bare.options.username, 'Pw6LEAK', 'still sent as the user, as written');
    const unix = redisTarget('unix:///run/redis.sock?db=2&PASSWORD=topsecret&pass=x');
    assert.equal(unix.shown, 'unix:///run/redis.sock?db=2');
    const { warnings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet', SHEETS_API_KEY: 'k'.repeat(39), REDIS_URL: 'unix:///run/redis.sock?db=2&PASSWORD=topsecret' } });
    assert.ok(warnings.includes('REDIS_URL has query parameters corral does not read, ignored ("PASSWORD"; their values not shown): it reads db, user and password only'), JSON.stringify(warnings));
    const user = loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet', SHEETS_API_KEY: 'k'.repeat(39), REDIS_URL: 'redis://Pw6LEAK@cache.example' } }).warnings;
    assert.ok(user.some((w) => w.startsWith('REDIS_URL names a user and no password')), JSON.stringify(user));
    assert.ok(!JSON.stringify(user).includes('Pw6LEAK') && !JSON.stringify(warnings).includes('topsecret'));
  });

  it('rediss:// sends the server name (SNI) for a host name only, not for an address, and takes the CA given', () => {
    const ca = Buffer.from('-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----\n');
    assert.deepEqual(redisTarget('rediss://10.0.0.5:6390', ca).options, { host: '10.0.0.5', port: 6390, tls: { ca } });
    assert.deepEqual(redisTarget('rediss://[::1]:6390').options, { host: '::1', port: 6390, tls: {} });
    assert.deepEqual(redisTarget('rediss://cache.example', ca).options, { host: 'cache.example', port: 6379, tls: { servername: 'cache.example', ca } });
    assert.deepEqual(redisTarget('redis://cache.example', ca).options, { host: 'cache.example', port: 6379 }, 'no TLS without rediss://');
  });

  it('takes the database of a redis:// URL from ?db=N too, as for a socket (it went to database 0 while its lines showed ?db=3), and refuses two that differ', () => {
    assert.deepEqual(redisTarget('redis://10.0.0.5:6379?db=3').options, { host: '10.0.0.5', port: 6379, db: 3 });
    assert.deepEqual(redisTarget('rediss://cache.example/?db=2').options, { host: 'cache.example', port: 6379, db: 2, tls: { servername: 'cache.example' } });
    assert.equal(redisTarget('redis://h/4?db=4').options.db, 4);
    assert.throws(() => redisTarget('redis://h/3?db=5'), /two databases, \/3 and \?db=5/);
    assert.throws(() => redisTarget('redis://h?db=x'), /database must be a whole number/);
  });

  it('refuses what it cannot use, saying what to write', () => {
    assert.throws(() => redisTarget('redis://h:6379/db1'), /database must be a whole number, from 0 to 15 on a server with Redis's default of 16 databases/);
    assert.equal(redisTarget('redis://h:6379/31').options.db, 31, 'a server may have more databases: its SELECT says');
    assert.throws(() => redisTarget('unix://'), /no socket path; write unix:\/\/\/path\/to\/redis.sock/);
    assert.throws(() => redisTarget('http://h:6379'), /unknown scheme http:/);
  });

  it('a user, password or socket path with a bad % sequence is named, with how to write special characters (not a bare "URI malformed"), and the password is not shown', () => {
    const refused = (url: string, part: RegExp) =>
      assert.throws(
        () => redisTarget(url),
        (err: unknown) =>
          err instanceof CorralError && err.code === 'CORRAL_ERR_CONFIG_INVALID' && part.test(err.message) && /invalid % sequence/.test(err.message) && /percent-encoded/.test(err.message) && !/URI malformed/.test(err.message) && !err.message.includes('p%ZZ'),
      );
    refused('redis://:p%ZZ@127.0.0.1:6379', /the password/);
    refused('rediss://u%E0%A4%A@cache.example:6390', /the user/);
    refused('unix:///run/redis/re%ZZdis.sock', /the socket path/);
    // # and ? end the host part: such a password made a bare "not a URL", which named no fix.
    // Nor may one whose text before the # or ? reads as a port (user:12#34 made host "user", port
    // 12, and printed the whole password in every line), nor one with a / before a number.
    const reserved = ['redis://:pa#ss@127.0.0.1:6379/0', 'rediss://corral:pa?ss@cache.example:6390', 'redis://dig:12#34@127.0.0.1:6379', 'redis://admin:2024#x@127.0.0.1:6379/0', 'redis://dig:12?34@127.0.0.1:6379', 'redis://dig:12/34@127.0.0.1:6379'];
    for (const url of reserved) {
      assert.throws(
        () => redisTarget(url),
        (err: unknown) => err instanceof CorralError && /is not a URL/.test(err.message) && /# as %23, \? as %3F/.test(err.message) && !/pa[#?]ss|12[#?/]34|2024#x/.test(err.message),
        url,
      );
    }
    // A port past 65535 is said as such, not as a password to percent-encode.
    // Port 0 too: it parses, but nothing listens there, and the link would retry it forever.
    for (const url of ['redis://127.0.0.1:99999', 'rediss://u:p@cache.example:70000/0', 'redis://[::1]:123456', 'redis://cache.example:0', 'redis://u:p@10.0.0.5:00/1']) {
      assert.throws(
        () => redisTarget(url),
        (err: unknown) => err instanceof CorralError && err.code === 'CORRAL_ERR_CONFIG_INVALID' && /^REDIS_URL's port is out of range: a port is 1 to 65535/.test(err.message) && !/percent-encoded/.test(err.message),
        url,
      );
    }
    // An @ in a query's value or after the host is no password: taken as written.
    assert.equal(redisTarget('unix:///run/redis.sock?password=a@b').options.password, 'a@b');
    assert.equal(redisTarget('redis://127.0.0.1:6379/2?password=a@b').options.password, 'a@b');
    // A unix:// URL has no host part: an @ in its socket path is the path's.
    assert.equal(redisTarget('unix:///run/redis@6379.sock').options.path, '/run/redis@6379.sock');
    assert.equal(redisTarget('unix:///redis@6379.sock').options.path, '/redis@6379.sock');
    assert.equal(redisTarget('redis://:pa%23s%3Fs@127.0.0.1:6379').options.password, 'pa#s?s');
    // Well-encoded special characters are decoded.
    assert.equal(redisTarget('redis://:p%40ss%25w%2Fd@127.0.0.1:6379').options.password, 'p@ss%w/d');
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://:p%ZZ@127.0.0.1:6379' } }),
      (err: unknown) => err instanceof ConfigError && /REDIS_URL/.test(err.message) && /the password holds an invalid % sequence/.test(err.message) && !err.message.includes('p%ZZ'),
    );
  });

  it('is shown with its password (or a user given alone, or a parameter corral does not read) masked, the rest as written', () => {
    assert.equal(shownRedisUrl('localhost:6379'), 'localhost:6379');
    // Without a scheme, `default:` parses as one and the password as a path: masked all the same.
    assert.equal(shownRedisUrl('default:s3cret@10.0.0.5:6379'), '***@10.0.0.5:6379');
    assert.equal(shownRedisUrl('user:s3cret@host:6379'), '***@host:6379');
    assert.equal(shownRedisUrl('redis:/:s3cret@host'), '***@host');
    assert.equal(shownRedisUrl('redis://10.0.0.5:6379/2'), 'redis://10.0.0.5:6379/2');
    assert.equal(shownRedisUrl('redis://corral:s3cret@10.0.0.5:6379'), 'redis://corral:***@10.0.0.5:6379');
    assert.equal(shownRedisUrl('redis://s3cret@10.0.0.5'), 'redis://***@10.0.0.5');
    assert.equal(shownRedisUrl('unix:///run/redis.sock?db=1&password=s3cret&pasword=s3cret'), 'unix:///run/redis.sock?db=1&password=***&pasword=***');
    assert.equal(shownRedisUrl('redis://:s3#cret@10.0.0.5'), 'redis://***@10.0.0.5');
    // As `corral config` lists it.
    assert.equal(displayValue('REDIS_URL', 'rediss://:s3cret@redis.internal:6380/1'), 'rediss://:***@redis.internal:6380/1');
  });

  it('is checked when settings load: a bad URL is a config problem (its password masked); without SHEET_ID it is said to do nothing', () => {
    // Shown as written when it holds no password: "<redacted>" hid what was wrong with it.
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'localhost:6379' } }),
      (err: unknown) => err instanceof ConfigError && /REDIS_URL="localhost:6379" \(from environment\): a redis:\/\/host:port/.test(err.message),
    );
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://:s3cret@h:99999' } }),
      (err: unknown) => err instanceof ConfigError && /REDIS_URL="redis:\/\/\*\*\*@h:99999"/.test(err.message) && !err.message.includes('s3cret'),
    );
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://:pw@h/x' } }),
      (err: unknown) => err instanceof ConfigError && /database must be a whole number/.test(err.message) && !err.message.includes(':pw@'),
    );
    const { warnings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://127.0.0.1:6379' } });
    assert.ok(warnings.some((w) => /REDIS_URL has no effect without SHEET_ID/.test(w)), warnings.join('\n'));
  });

  it('with SHEET_ID and no CORRAL_SESSION_SECRET, warns that each host would refuse the sessions of the others; quiet once it is set', () => {
    const sharing = { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://127.0.0.1:6379', SHEET_ID: 'sheet-1', SHEETS_API_KEY: 'k' };
    const unset = loadSettings({ env: sharing }).warnings;
    assert.ok(unset.some((w) => /CORRAL_SESSION_SECRET is unset: .*refuses \(401\) the tokens of the others.*same value .* on every host/.test(w)), unset.join('\n'));
    const set = loadSettings({ env: { ...sharing, CORRAL_SESSION_SECRET: 'x'.repeat(40) } }).warnings;
    assert.deepEqual(set.filter((w) => /SESSION_SECRET/.test(w)), []);
    // Without Redis, one host: its generated secret is enough.
    const alone = loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet-1', SHEETS_API_KEY: 'k' } }).warnings;
    assert.deepEqual(alone.filter((w) => /SESSION_SECRET/.test(w)), []);
  });

  it('REDIS_TLS_CA_FILE: checked when settings load (a rediss:// URL, a readable file, a PEM certificate in it), and made absolute', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-redis-ca-'));
    try {
      const pem = join(dir, 'ca.pem');
      writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
      writeFileSync(join(dir, 'ca.key'), '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
      const load = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet-1', SHEETS_API_KEY: 'k', ...env }, cwd: dir });
      const refused = (env: Record<string, string>, why: RegExp) =>
        assert.throws(
          () => load(env),
          (err: unknown) => err instanceof ConfigError && /REDIS_TLS_CA_FILE/.test(err.message) && why.test(err.message),
        );
      refused({ REDIS_URL: 'redis://10.0.0.5:6379', REDIS_TLS_CA_FILE: pem }, /only with a rediss:\/\/ REDIS_URL/);
      refused({ REDIS_TLS_CA_FILE: pem }, /only with a rediss:\/\/ REDIS_URL/);
      refused({ REDIS_URL: 'rediss://10.0.0.5:6379', REDIS_TLS_CA_FILE: 'missing.pem' }, /cannot be read \(ENOENT\)/);
      refused({ REDIS_URL: 'rediss://10.0.0.5:6379', REDIS_TLS_CA_FILE: 'ca.key' }, /holds no PEM certificate/);
      const { settings } = load({ REDIS_URL: 'rediss://10.0.0.5:6379', REDIS_TLS_CA_FILE: 'ca.pem' });
      assert.equal(settings.REDIS_TLS_CA_FILE, pem);
      // A worker never uses the CA (the keeper's link does, and reads it itself): a CA file removed
      // or rotated while corral runs must not keep a recycled worker from booting.
      const worker = loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'sheet-1', SHEETS_API_KEY: 'k', REDIS_URL: 'rediss://10.0.0.5:6379', REDIS_TLS_CA_FILE: 'missing.pem' }, cwd: dir, readFiles: false });
      assert.equal(worker.settings.REDIS_TLS_CA_FILE, join(dir, 'missing.pem'));
      // Its shape is still judged: TLS settings with a URL that would send the password in the clear.
      assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_URL: 'redis://10.0.0.5:6379', REDIS_TLS_CA_FILE: pem }, cwd: dir, readFiles: false }), /only with a rediss:\/\/ REDIS_URL/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
