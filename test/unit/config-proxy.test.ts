// HTTPS_PROXY / HTTP_PROXY / NO_PROXY through the one settings schema: the forms accepted, the
// refusals (exit 78 at start) with their fix, the lower-case names, .env, and the password never
// shown.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { displayValue } from '../../src/config/shown-value.js';
import { parseProxyUrl, shownProxyUrl } from '../../src/config/proxy-url.js';
import { ConfigError, EXIT, exitCodeFor } from '../../src/errors.js';

const load = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env }, readFiles: false });

function refusal(env: Record<string, string>): ConfigError {
  try {
    load(env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail('accepted');
}

test('proxy URLs: http and https, a port, credentials; without a scheme it is http:// (as curl and Go take it)', () => {
  assert.deepEqual(parseProxyUrl('http://proxy.corp:3128'), { ok: true, value: 'http://proxy.corp:3128' });
  assert.deepEqual(parseProxyUrl('https://proxy.corp'), { ok: true, value: 'https://proxy.corp' });
  assert.deepEqual(parseProxyUrl('proxy.corp:3128'), { ok: true, value: 'http://proxy.corp:3128' });
  assert.deepEqual(parseProxyUrl('http://[::1]:3128/'), { ok: true, value: 'http://[::1]:3128' });
  assert.deepEqual(parseProxyUrl('http://u%40corp:p%3Ass@proxy:3128'), { ok: true, value: 'http://u%40corp:p%3Ass@proxy:3128' });
  assert.deepEqual(parseProxyUrl(' '), { ok: true, value: undefined });
});

test('a malformed proxy URL is refused at load (exit 78) with the fix, and its password is not shown', () => {
  const cases: [string, RegExp][] = [
    ['http://proxy:99999', /cannot be parsed.*write http:\/\/host:port/],
    ['socks5://proxy:1080', /http:\/\/ or https:\/\/ proxy URL \(socks5:\/\/ is not supported\)/],
    ['http://wpad.corp/proxy.pac', /without a path or query \(a PAC file/],
    ['http://u:100%@proxy:3128', /percent-encoded \(a bare % is not\)/],
  ];
  for (const [value, why] of cases) {
    const err = refusal({ HTTPS_PROXY: value });
    assert.equal(exitCodeFor(err), EXIT.CONFIG, value);
    const p = err.problems.find((x) => x.name === 'HTTPS_PROXY');
    assert.ok(p, value);
    assert.match(p.allowed, why, value);
    assert.equal(p.source, 'environment');
  }
  // Unparsable: all before the last @ may be credentials (a password holding / or @).
  for (const [value, shown] of [
    ['http://user:hunter2@proxy:99999', 'http://***@proxy:99999'],
    ['http://user:hun/ter@2@proxy:99999', 'http://***@proxy:99999'],
    ['user:hunter2@proxy:99999', '***@proxy:99999'],
    // A password with a raw /, ? or # whose text before it reads as a port: it parsed (host
    // "user", port 2024), nothing hid it, and the refusal printed it whole.
    ['http://user:2024/hunter2@proxy:3128', 'http://***@proxy:3128'],
    ['http://user:1234#hunter2@proxy:3128', 'http://***@proxy:3128'],
    ['http://user:9999?hunter2@proxy:3128', 'http://***@proxy:3128'],
  ] as const) {
    const err = refusal({ HTTP_PROXY: value });
    assert.equal(/hunter2|hun\/ter/.test(err.message), false, err.message);
    assert.ok(err.message.includes(`HTTP_PROXY=${JSON.stringify(shown)}`), err.message);
  }
});

test('the password is redacted in corral config, overrides and warnings; the user and host are shown', () => {
  assert.equal(shownProxyUrl('http://user:pa%40ss@proxy:3128'), 'http://user:***@proxy:3128');
  assert.equal(shownProxyUrl('http://tokenonly@proxy:3128'), 'http://***@proxy:3128');
  assert.equal(shownProxyUrl('http://proxy:3128'), 'http://proxy:3128');
  const { settings } = load({ HTTPS_PROXY: 'http://user:hunter2@proxy:3128' });
  assert.equal(settings.HTTPS_PROXY, 'http://user:hunter2@proxy:3128', 'the client gets the real one');
  assert.equal(displayValue('HTTPS_PROXY', settings.HTTPS_PROXY), 'http://user:***@proxy:3128');
  const dir = mkdtempSync(join(tmpdir(), 'corral-proxy-'));
  try {
    writeFileSync(join(dir, '.env'), 'HTTPS_PROXY=http://user:fromfile@proxy:3128\n');
    const loaded = loadSettings({ env: { HTTPS_PROXY: 'http://user:fromenv@proxy:3128' }, cwd: dir, readFiles: false });
    assert.deepEqual(loaded.envOverrides, [{ setting: 'HTTPS_PROXY', file: 'http://user:***@proxy:3128', environment: 'http://user:***@proxy:3128' }]);
    const both = load({ https_proxy: 'http://a:pw-lower@proxy:3128', HTTPS_PROXY: 'http://a:pw-upper@proxy:3128' });
    assert.equal(both.warnings.length, 1);
    assert.equal(/pw-lower|pw-upper/.test(JSON.stringify(both.warnings)), false, JSON.stringify(both.warnings));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.env sets the proxy as the environment does, and corral config says where it came from', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-proxy-'));
  try {
    writeFileSync(join(dir, '.env'), 'HTTPS_PROXY=http://proxy.corp:3128\nNO_PROXY=metadata.google.internal, .corp\n');
    const { settings, sources, warnings } = loadSettings({ env: {}, cwd: dir, readFiles: false });
    assert.equal(settings.HTTPS_PROXY, 'http://proxy.corp:3128');
    assert.equal(sources.HTTPS_PROXY, '.env');
    assert.equal(settings.NO_PROXY, 'metadata.google.internal,.corp');
    assert.equal(sources.HTTP_PROXY, 'default');
    assert.deepEqual(warnings, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lower-case names are read and win over upper-case ones, as in curl and undici; a disagreement is warned about', () => {
  const lower = load({ https_proxy: 'http://a:3128', no_proxy: 'localhost' });
  assert.equal(lower.settings.HTTPS_PROXY, 'http://a:3128');
  assert.equal(lower.sources.HTTPS_PROXY, 'alias https_proxy');
  assert.equal(lower.settings.NO_PROXY, 'localhost');
  assert.deepEqual(lower.warnings, []);
  const both = load({ https_proxy: 'http://a:3128', HTTPS_PROXY: 'http://b:3128' });
  assert.equal(both.settings.HTTPS_PROXY, 'http://a:3128');
  assert.ok(both.warnings.some((w) => /https_proxy and HTTPS_PROXY are both set, to different values: https_proxy \(http:\/\/a:3128\) is used/.test(w)), both.warnings.join('\n'));
  assert.deepEqual(load({ http_proxy: 'http://a:3128', HTTP_PROXY: 'http://a:3128' }).warnings, [], 'the same value twice is fine');
  assert.match(refusal({ http_proxy: 'ftp://x' }).problems[0]?.source ?? '', /alias http_proxy/);
});

test('NO_PROXY: entries split on commas and spaces; CIDR blocks are kept but warned about, as nothing matches them', () => {
  const { settings, warnings } = load({ NO_PROXY: ' localhost , 127.0.0.1 10.0.0.0/8,,' });
  assert.equal(settings.NO_PROXY, 'localhost,127.0.0.1,10.0.0.0/8');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0] ?? '', /NO_PROXY entries 10\.0\.0\.0\/8 are CIDR blocks, which corral does not match/);
  assert.equal(load({ NO_PROXY: '' }).settings.NO_PROXY, undefined);
});
