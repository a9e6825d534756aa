import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { parseHostPort } from '../../src/config/spec.js';
import { ConfigError } from '../../src/errors.js';

const FIX = '; write host:port, e.g. 0.0.0.0:8080, 127.0.0.1:9090 or [::1]:8080 (port 0..65535)';
const why = (raw: string): string => {
  const r = parseHostPort(raw);
  assert.equal(r.ok, false, raw);
  return r.ok ? '' : r.allowed;
};

test("gunicorn's bind forms are refused for what they are: several addresses were told their IPv6 address needs brackets, a unix: socket that it is a URL", () => {
  const several = (n: number) => `${n} addresses, and corral listens on one: 0.0.0.0:PORT for every IPv4 address, [::]:PORT for IPv6 (and IPv4 too where the system maps it)${FIX}`;
  // Were: "an IPv6 address needs brackets around it" (none is IPv6), and
  // 'port "8000,0.0.0.0:8000" is not a number'.
  assert.equal(why('0.0.0.0:8000 127.0.0.1:9000'), several(2));
  assert.equal(why('127.0.0.1:8000;127.0.0.1:8001'), several(2));
  assert.equal(why('[::]:8000,0.0.0.0:8000'), several(2));
  assert.equal(why('0.0.0.0:8000, [::]:8000, 127.0.0.1:8001'), several(3));
  const unix = `a Unix socket, and corral listens on TCP only: bind a loopback address (127.0.0.1:PORT) and point the proxy in front at it${FIX}`;
  assert.equal(why('unix:/run/gunicorn.sock'), unix);
  assert.equal(why('UNIX:/run/gunicorn.sock'), unix);
  assert.equal(why('/run/corral.sock'), unix);
  // Not several addresses: a stray space is judged as before, not as a list.
  assert.equal(why('0.0.0.0 :8000'), `0.0.0.0  is neither an IP address nor a valid host name${FIX}`);
  assert.equal(why('http://0.0.0.0:8000'), `a URL or a path is not an address${FIX}`);
});

test('GUNICORN_BIND=unix:... in .env is refused with its line, as the alias it is read through', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bind-forms-'));
  try {
    writeFileSync(join(dir, '.env'), '# from the gunicorn deployment\nGUNICORN_BIND=unix:/run/gunicorn.sock\n');
    assert.throws(
      () => loadSettings({ cwd: dir, env: {} }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0]?.name === 'CORRAL_BIND' &&
        err.problems[0].source === `alias GUNICORN_BIND in ${join(dir, '.env')} line 2` &&
        err.problems[0].allowed.startsWith('a Unix socket, and corral listens on TCP only'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
