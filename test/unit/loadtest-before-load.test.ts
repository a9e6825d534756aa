// The target's state before the load: a 503 classified by its error code, and admin figures already over the criteria.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkUnavailable, overLimit } from '../../src/loadtest/before-load.js';
import type { Reply } from '../../src/loadtest/client.js';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import type { ServerSample } from '../../src/loadtest/sampler.js';

const target = new URL('http://127.0.0.1:44501');

function reply(status: number, json: unknown): Reply {
  return { sample: { kind: 'read', route: 'GET /api/players', status, outcome: status < 300 ? 'ok' : 'http', latencyUs: 1000, startMs: 0, endMs: 1, bytes: 10 }, json };
}

function refusal(fn: () => void): LoadtestError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LoadtestError);
    return err;
  }
  assert.fail('not refused');
}

describe('the target before the load', () => {
  it('refuses a 503 server_full or sheets_unavailable (exit 69), notes any other 503 or 5xx, lets the rest by', () => {
    const notes: string[] = [];
    const full = refusal(() => checkUnavailable(target, 'GET /api/players', reply(503, { error: 'server_full', message: 'server full (4/4)' }), notes));
    assert.equal(full.exitCode, LOADTEST_EXIT.TARGET_UNREACHABLE);
    assert.equal(full.code, 'CORRAL_ERR_LOADTEST_TARGET');
    assert.match(full.message, /^target http:\/\/127\.0\.0\.1:44501 answered GET \/api\/players with 503 server_full: server full \(4\/4\) before the load: every connection slot is already held/);
    const sheets = refusal(() => checkUnavailable(target, 'POST /api/login', reply(503, { error: 'sheets_unavailable' }), notes));
    assert.equal(sheets.exitCode, LOADTEST_EXIT.TARGET_UNREACHABLE);
    assert.match(sheets.message, /answered POST \/api\/login with 503 sheets_unavailable before the load: its Google Sheets backend cannot be read/);
    checkUnavailable(target, 'GET /api/players', reply(503, { error: 'forced' }), notes);
    checkUnavailable(target, 'GET /api/players', reply(503, undefined), notes);
    checkUnavailable(target, 'GET /api/players', reply(200, []), notes);
    checkUnavailable(target, 'GET /api/players', reply(429, { error: 'rate_limited' }), notes);
    // Only a 503 says server_full: a 500 carrying it is a failing target, noted, not refused.
    checkUnavailable(target, 'GET /api/players', reply(500, { error: 'server_full' }), notes);
    checkUnavailable(target, 'POST /api/login', reply(502, undefined), notes);
    assert.deepEqual(notes, [
      "the target answered GET /api/players with 503 forced before the load: it was unavailable already, so the run's 503s are not the load's alone",
      "the target answered GET /api/players with 503 before the load: it was unavailable already, so the run's 503s are not the load's alone",
      "the target answered GET /api/players with HTTP 500 before the load: it was failing already, so the run's 500s are not the load's alone",
      "the target answered POST /api/login with HTTP 502 before the load: it was failing already, so the run's 502s are not the load's alone",
    ]);
  });

  it("writes the target's own words with their control characters escaped: no escape sequence of the server's reaches the terminal", () => {
    const notes: string[] = [];
    const full = refusal(() => checkUnavailable(target, 'GET /api/players', reply(503, { error: 'server_full', message: 'full\u001b]0;owned\u0007\r\n' }), notes));
    assert.match(full.message, /503 server_full: full\\u001b\]0;owned\\u0007\\u000d\\u000a before the load/);
    checkUnavailable(target, 'GET /api/players', reply(503, { error: 'odd\u009b2J' }), notes);
    assert.match(notes[0] ?? '', /^the target answered GET \/api\/players with 503 odd\\u009b2J before the load/);
    assert.ok(![full.message, ...notes].some((t) => /[\u0000-\u001f\u007f-\u009f]/.test(t)), 'no control character left');
  });

  it('says how an admin sample is over the criteria already, and nothing when it is not', () => {
    const s = (over: Partial<ServerSample>): ServerSample => ({ t: 0, cpu: 30, ram: 20, hostT: 0, hostDated: false, connections: 3, maxConnections: 40, status: 'LOW', ...over });
    assert.equal(overLimit(s({})), undefined);
    assert.equal(overLimit(s({ status: 'WARNING', cpu: 79.96, ram: 49.9 })), undefined);
    assert.equal(overLimit(s({ status: 'FULL', connections: 40, cpu: 99 })), 'capacity FULL (40/40 connections), host CPU 99 % ≥ 80 %');
    assert.equal(overLimit(s({ status: 'UNAVAILABLE', connections: null, ram: 61 })), 'capacity UNAVAILABLE, RAM 61 % ≥ 50 %');
  });
});
