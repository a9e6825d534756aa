// A Players tab that keeps players from logging in (players.ts rosterProblem, routes/auth.ts): a
// name on two rows, a header without name or code. The login answers as before; the operator is
// told once per worker and fault (app.roster_problem), and again when it is fixed.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { createFakeSheets, SAMPLE_EVENTS, type FakeSheets } from '../fixtures/fake-sheets.js';

const HEADER = ['name', 'code', 'team'];

describe('a roster that keeps players from logging in', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let lines: Record<string, unknown>[];
  const status = async (name: string, code: string) => {
    const res = await postJson(`${app.url}/api/login`, { name, code });
    await res.body?.cancel();
    return res.status;
  };
  const said = (event: string) => lines.filter((l) => l.event === event);
  before(async () => {
    const log = memoryLogger();
    lines = log.lines;
    sheets = createFakeSheets({ Players: [HEADER, ['Thomas Martin', 'T-111', 'red'], ['Alice', 'a-1', 'blue'], [' thomas martin ', 'T-222', 'blue'], ['THOMAS MARTIN', 'T-333', 'red']], Events: SAMPLE_EVENTS });
    app = await startApp({ CORRAL_RATE_LIMIT: '1000' }, sheets, { logger: log.logger });
  });
  after(() => app.close());

  it('a name on two rows: the first row logs in, the second never does, and the operator is told once, with the name', async () => {
    assert.equal(await status('Thomas Martin', 'T-111'), 200);
    assert.equal(await status('Thomas Martin', 'T-222'), 401);
    assert.equal(await status('Alice', 'a-1'), 200);
    const problems = said('app.roster_problem');
    assert.equal(problems.length, 1, 'once for the fault, not at each login (each login reads a new copy here)');
    assert.equal(problems[0]!.level, 40);
    assert.equal(problems[0]!.code, 'CORRAL_ERR_ROSTER');
    assert.deepEqual(problems[0]!.repeated_names, ['Thomas Martin'], 'one name on three rows, as its first row writes it');
    assert.equal(problems[0]!.repeated_count, 1);
    assert.deepEqual(problems[0]!.missing_columns, []);
    assert.match(String(problems[0]!.msg), /1 name is written on more than one row \("Thomas Martin"; .*only the first row of each logs in.*make each name unique/);
  });

  it('fixed: said once at the next login; a header without code: every login fails, and that is said', async () => {
    sheets.tabs.set('Players', [HEADER, ['Thomas Martin', 'T-111', 'red'], ['Thomas Martin-Durand', 'T-222', 'blue']]);
    assert.equal(await status('Thomas Martin-Durand', 'T-222'), 200);
    assert.equal(await status('Thomas Martin', 'T-111'), 200);
    assert.equal(said('app.roster_fixed').length, 1);
    sheets.tabs.set('Players', [['name', 'Code secret', 'team'], ['Alice', 'a-1', 'blue']]);
    assert.equal(await status('Alice', 'a-1'), 401);
    const problems = said('app.roster_problem');
    assert.equal(problems.length, 2);
    assert.deepEqual(problems[1]!.missing_columns, ['code']);
    assert.match(String(problems[1]!.msg), /header row has no code column, so no login can succeed/);
  });

  it("a header without name: every login answers 401, never 429 (no name is the roster's to count), and the line says so", async () => {
    sheets.tabs.set('Players', [['nme', 'code', 'team'], ['Alice', 'a-1', 'blue']]);
    for (let i = 0; i < 12; i++) assert.equal(await status('Alice', 'wrong'), 401);
    assert.equal(await status('Alice', 'a-1'), 401);
    const problem = said('app.roster_problem').at(-1);
    assert.deepEqual(problem?.missing_columns, ['name']);
    assert.match(String(problem?.msg), /header row has no name column, so no login can succeed \(every one answers 401 invalid_credentials\)/);
    assert.doesNotMatch(String(problem?.msg), /429/);
  });

  it("a roster whose name column is gone keeps the sessions: 503 until it is fixed, not 401 invalid_token, which clients take as a token to throw away", async () => {
    sheets.tabs.set('Players', [HEADER, ['Alice', 'a-1', 'blue']]);
    const login = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-1' });
    const { token } = (await login.json()) as { token: string };
    const me = () => fetch(`${app.url}/api/me`, { headers: { authorization: `Bearer ${token}` } });
    sheets.tabs.set('Players', [['nme', 'code', 'team'], ['Alice', 'a-1', 'blue']]);
    const broken = await me();
    assert.equal(broken.status, 503);
    assert.equal(broken.headers.get('www-authenticate'), null);
    assert.match(((await broken.json()) as { message: string }).message, /no name column, which the server's operator must fix; the session is kept/);
    sheets.tabs.set('Players', [HEADER, ['Alice', 'a-1', 'blue']]);
    assert.equal((await me()).status, 200, 'the same token once the header is fixed');
    sheets.tabs.set('Players', [HEADER, ['Bob', 'b-1', 'red']]);
    assert.equal((await me()).status, 401, 'a player removed from a sound roster is refused as before');
  });

  it('a code with accents logs in whichever Unicode form the client sends', async () => {
    sheets.tabs.set('Players', [HEADER, ['Zoé', 'caf\u00e9-7', 'red']]);
    assert.equal(await status('Zoe\u0301', 'cafe\u0301-7'), 200, 'decomposed (NFD), as some keyboards send it');
    assert.equal(await status('Zoé', 'caf\u00e9-7'), 200);
    assert.equal(await status('Zoé', 'CAF\u00c9-7'), 401, 'case is kept');
  });
});
