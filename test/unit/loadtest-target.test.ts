// Where the load may go (loopback unless --allow-remote) and who the virtual users log in as.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { defaultUsersFile, loadCredentials, parseCsv } from '../../src/loadtest/credentials.js';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import { isLoopbackAddress } from '../../src/loopback.js';
import { apiPath, checkTargetAllowed, noAnswerReason } from '../../src/loadtest/target.js';

describe('target', () => {
  it('knows loopback addresses', () => {
    // ::ffff:7f00:1 is how the URL parser writes [::ffff:127.0.0.1].
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', '::ffff:127.0.0.1', '::ffff:7f00:1', new URL('http://[::ffff:127.0.0.1]:80').hostname]) assert.equal(isLoopbackAddress(a), true, a);
    for (const a of ['10.0.0.1', '0.0.0.0', '192.168.1.1', '::', 'fe80::1', '::ffff:10.0.0.1', 'localhost']) assert.equal(isLoopbackAddress(a), false, a);
  });

  it('says why a target gave no answer in terms of what to change', () => {
    const https = new URL('https://127.0.0.1:8443');
    const http = new URL('http://127.0.0.1:8443');
    assert.match(noAnswerReason(https, 'DEPTH_ZERO_SELF_SIGNED_CERT'), /^target https:\/\/127\.0\.0\.1:8443 answered with a TLS certificate this machine does not trust \(DEPTH_ZERO_SELF_SIGNED_CERT\); give its CA with NODE_EXTRA_CA_CERTS=FILE/);
    assert.match(noAnswerReason(https, 'ERR_TLS_CERT_ALTNAME_INVALID'), /TLS certificate this machine does not trust/);
    assert.match(noAnswerReason(https, 'ERR_SSL_WRONG_VERSION_NUMBER'), /does not speak TLS \(ERR_SSL_WRONG_VERSION_NUMBER\); use http:\/\/ for it$/);
    assert.match(noAnswerReason(http, 'UND_ERR_SOCKET'), /closed the connection without answering \(UND_ERR_SOCKET\); if it serves TLS, use https:\/\/ for it$/);
    assert.equal(noAnswerReason(http, 'ECONNREFUSED'), 'target http://127.0.0.1:8443 is not answering (ECONNREFUSED); is corral running there?');
  });

  it('allows loopback targets, by address or by name', async () => {
    await checkTargetAllowed(new URL('http://127.0.0.1:8000'), false);
    await checkTargetAllowed(new URL('http://[::1]:8000'), false);
    await checkTargetAllowed(new URL('http://localhost:8000'), false);
    await checkTargetAllowed(new URL('http://[::ffff:127.0.0.1]:8000'), false);
    // A name is pinned to the addresses it was checked against.
    const pinned = await checkTargetAllowed(new URL('http://localhost:8000'), false);
    assert.ok(pinned && pinned.length > 0 && pinned.every((a) => isLoopbackAddress(a.address)));
  });

  it('refuses a non-loopback target without --allow-remote, saying which flag allows it', async () => {
    for (const url of ['http://10.0.0.1:8000', 'http://[2001:db8::1]/', 'http://corral-test.invalid:8000']) {
      await assert.rejects(checkTargetAllowed(new URL(url), false), (err: unknown) => {
        assert.ok(err instanceof LoadtestError);
        assert.equal(err.code, 'CORRAL_ERR_LOADTEST_TARGET');
        assert.equal(err.exitCode, LOADTEST_EXIT.USAGE);
        assert.match(err.message, /not .*loopback.*--allow-remote/);
        return true;
      });
    }
    await checkTargetAllowed(new URL('http://10.0.0.1:8000'), true);
  });

  it('keeps a proxy prefix in API paths', () => {
    assert.equal(apiPath(new URL('http://127.0.0.1:1'), '/api/login'), '/api/login');
    assert.equal(apiPath(new URL('http://127.0.0.1:1/corral/'), '/api/login'), '/corral/api/login');
  });
});

describe('users file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-lt-users-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses RFC 4180 CSV', () => {
    assert.deepEqual(parseCsv('\ufeffname,code\r\n"Martin, Alice","P""1"\n\nBob,P2'), [['name', 'code'], ['Martin, Alice', 'P"1'], ['Bob', 'P2']]);
  });

  it('reads the name and code columns of a CSV, in any order', () => {
    const f = join(dir, 'u.csv');
    writeFileSync(f, 'team,Code,Name\nRed,P1,Alice\nBlue,,NoCode\nRed,P2,Bob\n');
    assert.deepEqual(loadCredentials(f).credentials, [{ name: 'Alice', code: 'P1' }, { name: 'Bob', code: 'P2' }]);
  });

  it('reads a JSON array', () => {
    const f = join(dir, 'u.json');
    writeFileSync(f, JSON.stringify([{ name: 'Alice', code: 'P1' }, { name: 'Bob', code: 2 }]));
    assert.deepEqual(loadCredentials(f).credentials, [{ name: 'Alice', code: 'P1' }, { name: 'Bob', code: '2' }]);
  });

  it('reads a JSON array saved with a UTF-8 BOM (as Windows editors save one) as without it', () => {
    const f = join(dir, 'bom.json');
    writeFileSync(f, `\uFEFF${JSON.stringify([{ name: 'Alice', code: 'P1' }])}`);
    assert.deepEqual(loadCredentials(f).credentials, [{ name: 'Alice', code: 'P1' }]);
  });

  it('says on which line and column a JSON users file stops being JSON', () => {
    const f = join(dir, 'syntax.json');
    writeFileSync(f, '[\n  {"name": "Alice", "code": "P1"},\n  {"name": "Bob" "code": "P2"}\n]\n');
    assert.throws(() => loadCredentials(f), (err: unknown) => err instanceof LoadtestError && err.exitCode === 64 && /syntax\.json is not valid JSON: .*\(?line 3 column 18\)?/.test(err.message));
  });

  it('refuses files without usable rows, naming the file', () => {
    const cases: [string, string, RegExp][] = [
      ['a.csv', 'team,role\nRed,x\n', /needs "name" and "code" columns/],
      ['b.csv', '', /is empty/],
      ['c.csv', 'name,code\n', /no rows with both a name and a code/],
      ['d.json', '{"name":"x"}', /expected a JSON array/],
      ['e.json', '[{"name":"x"}]', /entry \[0\] needs/],
    ];
    for (const [name, text, pattern] of cases) {
      const f = join(dir, name);
      writeFileSync(f, text);
      assert.throws(() => loadCredentials(f), (err: unknown) => err instanceof LoadtestError && err.exitCode === 64 && pattern.test(err.message) && err.message.includes(f));
    }
    assert.throws(() => loadCredentials(join(dir, 'missing.csv')), /cannot read/);
  });

  it('defaults to the sample sheet players', () => {
    const { file, credentials } = loadCredentials(undefined);
    assert.equal(file, defaultUsersFile());
    assert.ok(credentials.length > 0);
    assert.ok(credentials.every((c) => c.name !== '' && c.code !== ''));
  });
});
