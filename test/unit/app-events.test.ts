import assert from 'node:assert/strict';
import { CorralError, JournalFullError } from '../../src/errors.js';
import { after, before, describe, it } from 'node:test';
import { DETAIL_MAX, EVENT_BODY_LIMIT, EVENT_COLUMNS, KIND_MAX } from '../../src/app/routes/events.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS, type FakeSheets } from '../fixtures/fake-sheets.js';
import { postJson, startApp, type AppHarness } from '../fixtures/app-harness.js';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { waitFor } from '../helpers/corral.js';

/** The app on the sample sheets, and Bob's authorization header; with `log`, the app logs there. */
async function appWithBob(log?: ReturnType<typeof memoryLogger>): Promise<{ app: AppHarness; sheets: FakeSheets; auth: Record<string, string> }> {
  const sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
  const app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets, log ? { logger: log.logger } : undefined);
  const res = await postJson(`${app.url}/api/login`, { name: 'Bob', code: 'b-secret-2' });
  return { app, sheets, auth: { authorization: `Bearer ${((await res.json()) as { token: string }).token}` } };
}

describe('POST /api/events', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let auth: Record<string, string>;
  before(async () => {
    ({ app, sheets, auth } = await appWithBob());
  });
  after(() => app.close());

  it('needs a session', async () => {
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag' });
    assert.equal(res.status, 401);
    assert.equal(sheets.appended.length, 0);
  });

  it('appends [event_id, player, kind, detail, at] and answers 201 with the id', async () => {
    const before = Date.now();
    const res = await postJson(`${app.url}/api/events`, { kind: ' tag ', detail: 'caught Alice\nnear the gate' }, auth);
    assert.equal(res.status, 201);
    const { id } = (await res.json()) as { id: string };
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(EVENT_COLUMNS, ['event_id', 'player', 'kind', 'detail', 'at']);
    const last = sheets.appended.at(-1);
    assert.equal(last?.range, 'Events');
    const row = last?.rows[0] ?? [];
    assert.deepEqual(row.slice(0, 4), [id, 'Bob', 'tag', 'caught Alice\nnear the gate']);
    const at = Date.parse(row[4] ?? '');
    assert.ok(at >= before - 1000 && at <= Date.now() + 1000);
  });

  it('gives every event its own id', async () => {
    const ids = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const res = await postJson(`${app.url}/api/events`, { kind: 'ping' }, auth);
      ids.add(((await res.json()) as { id: string }).id);
    }
    assert.equal(ids.size, 20);
  });

  it('refuses a player removed from the roster, although the token is still valid', async () => {
    const login = await postJson(`${app.url}/api/login`, { name: 'Chloé', code: 'c-secret-3' });
    const chloe = { authorization: `Bearer ${((await login.json()) as { token: string }).token}` };
    const players = sheets.tabs.get('Players') ?? [];
    const at = players.findIndex((r) => r[0] === 'Chloé');
    const [removed] = players.splice(at, 1);
    try {
      const appended = sheets.appended.length;
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, chloe);
      assert.equal(res.status, 401);
      assert.equal(((await res.json()) as { error: string }).error, 'unauthorized');
      assert.equal(sheets.appended.length, appended, 'nothing written');
    } finally {
      if (removed) players.splice(at, 0, removed);
    }
  });

  it('writes the name as the sheet spells it, whatever case and form were typed at login', async () => {
    // "chloe\u0301" (e + combining accent, NFD) and lower case: the same player as the sheet's "Chloé".
    const login = await postJson(`${app.url}/api/login`, { name: ' chloe\u0301 ', code: 'c-secret-3' });
    assert.equal(login.status, 200);
    const token = ((await login.json()) as { token: string }).token;
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub: string };
    assert.equal(claims.sub, 'Chloé', 'the session names the sheet\'s player, not what was typed');
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { authorization: `Bearer ${token}` });
    assert.equal(res.status, 201);
    assert.equal(sheets.appended.at(-1)?.rows[0]?.[1], 'Chloé');
  });

  it('answers 503 (not 201) when the durable append fails', async () => {
    sheets.failAppends = true;
    try {
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.equal(((await res.json()) as { error: string }).error, 'sheets_unavailable');
    } finally {
      sheets.failAppends = false;
    }
  });

  it('without Idempotency-Key the append carries no claim, and the header row the row was built under', async () => {
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
    assert.equal(res.status, 201);
    assert.equal(sheets.appendOptions.at(-1)?.idempotency, undefined);
    assert.deepEqual(sheets.appendOptions.at(-1)?.header, ['event_id', 'player', 'kind', 'detail', 'at']);
  });

  it('with Idempotency-Key the append carries the key scoped to the player, a fingerprint of kind and detail, and the answer', async () => {
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag', detail: 'd' }, { ...auth, 'idempotency-key': 'retry-me' });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('idempotent-replayed'), null);
    const answer = await res.text();
    const first = sheets.appendOptions.at(-1)?.idempotency;
    assert.ok(first);
    assert.equal(first.answer, answer, 'a retry is given back exactly this body');
    assert.ok(!first.key.includes('retry-me'), 'the keeper holds a hash, not the client key');

    await postJson(`${app.url}/api/events`, { kind: 'tag', detail: 'd' }, { ...auth, 'idempotency-key': 'another key' });
    const second = sheets.appendOptions.at(-1)?.idempotency;
    assert.notEqual(second?.key, first.key);
    assert.equal(second?.fingerprint, first.fingerprint, 'the same request');
    await postJson(`${app.url}/api/events`, { kind: 'tag', detail: 'e' }, { ...auth, 'idempotency-key': 'retry-me' });
    const third = sheets.appendOptions.at(-1)?.idempotency;
    assert.equal(third?.key, first.key);
    assert.notEqual(third?.fingerprint, first.fingerprint, 'another request');
    // Every key of one player counts against that player's share of the keeper's cap.
    assert.ok(first.owner, 'the key names its owner');
    assert.ok(!first.owner.includes('Bob'), 'a hash, not the name');
    assert.equal(second?.owner, first.owner);
    assert.equal(third?.owner, first.owner);
    const res2 = await postJson(`${app.url}/api/login`, { name: 'Alice', code: 'a-secret-1' });
    assert.equal(res2.status, 200);
    const alice = { authorization: `Bearer ${((await res2.json()) as { token: string }).token}` };
    await postJson(`${app.url}/api/events`, { kind: 'tag', detail: 'd' }, { ...alice, 'idempotency-key': 'retry-me' });
    const hers = sheets.appendOptions.at(-1)?.idempotency;
    assert.ok(hers?.owner);
    assert.notEqual(hers.owner, first.owner, "another player's keys count against her own share");
  });

  it('keeps a retry on the first request\'s key after the roster changed only the case and spacing of the name', async () => {
    const players = sheets.tabs.get('Players') ?? [];
    const row = players.find((r) => r[0] === 'Bob');
    assert.ok(row);
    const headers = { ...auth, 'idempotency-key': 'renamed-between' };
    try {
      assert.equal((await postJson(`${app.url}/api/events`, { kind: 'tag' }, headers)).status, 201);
      const first = sheets.appendOptions.at(-1)?.idempotency;
      assert.ok(first);
      row[0] = ' BOB ';
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, headers);
      assert.equal(res.status, 201, 'the session still finds the player');
      const retry = sheets.appendOptions.at(-1)?.idempotency;
      assert.equal(retry?.key, first.key, 'the keeper recognises the retry, so writes no second row');
      assert.equal(retry?.owner, first.owner, "counted against the same player's share");
    } finally {
      row[0] = 'Bob';
    }
  });

  it("answers a retry the keeper recognised with the stored answer and Idempotent-Replayed: true", async () => {
    sheets.replayWith = '{"id":"first-id","at":"2026-11-25T00:00:00.000Z"}';
    try {
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'k' });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('idempotent-replayed'), 'true');
      assert.deepEqual(await res.json(), { id: 'first-id', at: '2026-11-25T00:00:00.000Z' });
    } finally {
      sheets.replayWith = undefined;
    }
  });

  it("says no Idempotent-Replayed when the keeper's stored answer is this request's own (the link resent it after the keeper journaled it)", async () => {
    sheets.replayWith = 'own';
    try {
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'sent-once' });
      assert.equal(res.status, 201);
      assert.equal(res.headers.get('idempotent-replayed'), null, 'the client sent this request once');
      assert.equal(JSON.stringify(await res.json()), sheets.appendOptions.at(-1)?.idempotency?.answer);
    } finally {
      sheets.replayWith = undefined;
    }
  });

  it("maps the keeper's refusals of a key: another request 422, still in flight 409 with Retry-After", async () => {
    const cases: Array<[CorralError, number, string]> = [
      [new CorralError('CORRAL_ERR_IDEMPOTENCY_MISMATCH', 'other'), 422, 'idempotency_key_reused'],
      [new CorralError('CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT', 'busy'), 409, 'idempotency_key_in_flight'],
    ];
    try {
      for (const [err, status, error] of cases) {
        sheets.appendError = err;
        const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'k' });
        assert.equal(res.status, status);
        assert.equal(((await res.json()) as { error: string }).error, error);
        if (status === 409) assert.equal(res.headers.get('retry-after'), '1');
      }
    } finally {
      sheets.appendError = undefined;
    }
  });

  it('answers 503 not_saved with Retry-After when the journal is at SHEETS_JOURNAL_MAX_MB, saying the event was not saved', async () => {
    sheets.appendError = new JournalFullError('/data/sheets.journal', 300 * 1048576, 256 * 1048576);
    try {
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '30');
      const body = (await res.json()) as { error: string; message: string };
      assert.equal(body.error, 'not_saved');
      assert.match(body.message, /too many events are waiting to reach the sheet\); nothing was recorded/);
    } finally {
      sheets.appendError = undefined;
    }
  });

  it('answers 503 saying the event may have been saved when the keeper went silent or away while saving it, and how to retry safely', async () => {
    try {
      for (const code of ['CORRAL_ERR_KEEPER_UNAVAILABLE', 'CORRAL_ERR_KEEPER_SLOW'] as const) {
        sheets.appendError = new CorralError(code, 'keeper unreachable: socket hang up');
        const keyed = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'k-lost' });
        assert.equal(keyed.status, 503, code);
        assert.equal(keyed.headers.get('retry-after'), '5');
        const body = (await keyed.json()) as { error: string; message: string };
        assert.equal(body.error, 'sheets_unavailable');
        assert.match(body.message, /may or may not have been saved; retry with the same Idempotency-Key and body/);
        const plain = (await (await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth)).json()) as { message: string };
        assert.match(plain.message, /may or may not have been saved; a retry may save it twice \(a key sent only with the retry cannot tell\): send an Idempotency-Key header with each new event/);
      }
    } finally {
      sheets.appendError = undefined;
    }
  });

  it('refuses a malformed key with 400 before anything is appended', async () => {
    const appended = sheets.appended.length;
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'x'.repeat(300) });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_idempotency_key');
    assert.equal(sheets.appended.length, appended);
  });
});

describe('POST /api/events writes under the Events header row', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let log: ReturnType<typeof memoryLogger>;
  let auth: Record<string, string>;
  const setHeader = (header: string[]) => {
    const events = sheets.tabs.get('Events') ?? [];
    events.splice(0, events.length, header);
  };
  before(async () => {
    sheets = createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS });
    log = memoryLogger();
    app = await startApp({ CORRAL_RATE_LIMIT: '0' }, sheets, { logger: log.logger });
    const res = await postJson(`${app.url}/api/login`, { name: 'Bob', code: 'b-secret-2' });
    auth = { authorization: `Bearer ${((await res.json()) as { token: string }).token}` };
  });
  after(() => app.close());

  it('puts each value under its own header in a reordered tab, and leaves unknown columns empty', async () => {
    setHeader(['event_id', ' At', 'notes', 'Player', 'kind', 'detail', 'extra']);
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag', detail: 'near the gate' }, auth);
    assert.equal(res.status, 201);
    const { id, at } = (await res.json()) as { id: string; at: string };
    assert.deepEqual(sheets.appended.at(-1)?.rows[0], [id, at, '', 'Bob', 'tag', 'near the gate']);
    // The header it was built under goes with it, for the keeper to write it under the tab's header
    // when it is sent; the names past its last cell carry no value and are left out.
    assert.deepEqual(sheets.appendOptions.at(-1)?.header, ['event_id', ' At', 'notes', 'Player', 'kind', 'detail']);
  });

  it('writes [event_id, player, kind, detail, at] under the default header', async () => {
    setHeader([...SAMPLE_EVENTS[0]!]);
    const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
    assert.equal(res.status, 201);
    const { id, at } = (await res.json()) as { id: string; at: string };
    assert.deepEqual(sheets.appended.at(-1)?.rows[0], [id, 'Bob', 'tag', '', at]);
  });

  for (const [what, header, problem] of [
    ['lacks a column', ['event_id', 'player', 'kind', 'at'], /lacks detail/],
    ['does not start with event_id', ['at', 'event_id', 'player', 'kind', 'detail'], /does not start with event_id/],
    ['is empty', [], /no header row/],
  ] as const) {
    it(`refuses the event with 503 events_header_invalid, writing nothing, when the header ${what}`, async () => {
      setHeader([...header]);
      const appended = sheets.appended.length;
      const lines = log.lines.length;
      const res = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('retry-after'), '30');
      assert.equal(((await res.json()) as { error: string }).error, 'events_header_invalid');
      assert.equal(sheets.appended.length, appended, 'nothing written');
      const line = log.lines.slice(lines).find((l) => l.event === 'app.events_header_invalid');
      assert.ok(line, 'logged');
      assert.equal(line.level, 50);
      assert.equal(line.code, 'CORRAL_ERR_EVENTS_HEADER');
      assert.equal(line.range, 'Events');
      assert.deepEqual(line.header, header);
      assert.match(String(line.msg), problem);
      assert.match(String(line.msg), /tab Events/);
      assert.match(String(line.msg), /Fix: make row Events!1:1 name event_id, player, kind, detail, at/);
      setHeader([...SAMPLE_EVENTS[0]!]);
      // Fixed: the next event is written, and the log says so.
      const ok = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
      assert.equal(ok.status, 201);
      assert.ok(log.lines.slice(lines).some((l) => l.event === 'app.events_header_fixed'));
    });
  }
});

describe('POST /api/events with an Idempotency-Key under a header it cannot write under', () => {
  it('does not tell the retry that nothing was written: its first request may have been saved and wait for the fix', async () => {
    const { app, sheets, auth } = await appWithBob();
    try {
      const events = sheets.tabs.get('Events') ?? [];
      events.splice(0, events.length, ['at', 'event_id', 'player', 'kind', 'detail']);
      const keyed = await postJson(`${app.url}/api/events`, { kind: 'tag' }, { ...auth, 'idempotency-key': 'k-header' });
      assert.equal(keyed.status, 503);
      const body = (await keyed.json()) as { error: string; message: string };
      assert.equal(body.error, 'events_header_invalid');
      assert.doesNotMatch(body.message, /nothing was written/);
      assert.match(body.message, /may have been saved: retry with the same key/);
      // Without a key, nothing this client sent can have been saved: said as before.
      const plain = await postJson(`${app.url}/api/events`, { kind: 'tag' }, auth);
      assert.match(((await plain.json()) as { message: string }).message, /nothing was written, retry later/);
    } finally {
      await app.close();
    }
  });
});

describe('POST /api/events and the header copies it is given', () => {
  it('never goes back to an older copy of the header row than one it has used (the keeper serves one past its TTL while it refreshes it)', async () => {
    const log = memoryLogger();
    const { app, sheets, auth } = await appWithBob(log);
    try {
      const good = [...SAMPLE_EVENTS[0]!];
      const broken = ['at', 'event_id', 'player', 'kind', 'detail'];
      const copy = (header: string[], fetchedAt: number) => ({
        header,
        records: [],
        read: { range: 'Events!1:1', values: [header], fetchedAt, stale: true, staleSeconds: 10, pendingRows: 0 },
      });
      // The header fixed, in a copy this worker holds: the event is taken.
      const fixedAt = Date.now();
      const cached = sheets.cachedRecords.bind(sheets);
      sheets.cachedRecords = (range) => (range === 'Events!1:1' ? copy(good, fixedAt) : cached(range));
      assert.equal((await postJson(`${app.url}/api/events`, { kind: 'a' }, auth)).status, 201);
      // Its hold ends (an append ends it), and the keeper answers the refresh with a copy from
      // before the fix, served past its TTL while it refreshes it.
      let refreshes = 0;
      sheets.cachedRecords = (range) => (range === 'Events!1:1' ? undefined : cached(range));
      const records = sheets.records.bind(sheets);
      sheets.records = async (range) => (range === 'Events!1:1' ? (refreshes++, copy(broken, fixedAt - 40_000)) : records(range));
      for (let i = 0; i < 3; i++) {
        assert.equal((await postJson(`${app.url}/api/events`, { kind: `b${i}` }, auth)).status, 201, `event ${i} after the older copy came back`);
      }
      assert.ok(refreshes >= 1, 'the header was refreshed beside the requests');
      assert.equal(log.lines.filter((l) => l.event === 'app.events_header_invalid').length, 0, 'no "invalid" line: the header was not seen broken again');
      // A newer copy with a broken header is taken: from the event after the one that read it.
      sheets.records = async (range) => (range === 'Events!1:1' ? copy(broken, Date.now()) : records(range));
      await postJson(`${app.url}/api/events`, { kind: 'c' }, auth);
      await waitFor(async () => (await postJson(`${app.url}/api/events`, { kind: 'd' }, auth)).status === 503 || undefined, 5_000, 'an event refused under the newer, broken header');
    } finally {
      await app.close();
    }
  });
});

describe('POST /api/events after the header row was fixed, on a worker whose last copy showed it broken', () => {
  it('reads the header again before refusing on a copy it no longer holds: no 503 and no "cannot take events" line long after the fix', async () => {
    const log = memoryLogger();
    const { app, sheets, auth } = await appWithBob(log);
    try {
      const good = [...SAMPLE_EVENTS[0]!];
      const broken = ['event_id', 'player', 'kind', '', 'at'];
      const copy = (header: string[]) => ({
        header,
        records: [],
        read: { range: 'Events!1:1', values: [header], fetchedAt: Date.now(), stale: false, staleSeconds: 0, pendingRows: 0 },
      });
      // The worker holds no copy of the header (past SHEET_CACHE_TTL: the worker was idle since),
      // so each event reads it from the keeper.
      const cached = sheets.cachedRecords.bind(sheets);
      sheets.cachedRecords = (range) => (range === 'Events!1:1' ? undefined : cached(range));
      let header = broken;
      let reads = 0;
      const records = sheets.records.bind(sheets);
      sheets.records = async (range) => (range === 'Events!1:1' ? (reads++, copy(header)) : records(range));
      assert.equal((await postJson(`${app.url}/api/events`, { kind: 'a' }, auth)).status, 503, 'refused under the broken header');
      const refusedLines = () => log.lines.filter((l) => l.event === 'app.events_header_invalid').length;
      assert.equal(refusedLines(), 1);
      // The operator fixes the tab; the keeper's copy shows it. This worker's last copy, from before
      // the fix, is no reason to refuse the next event: it was read long ago, and a fresh read says
      // otherwise. Refused, the client was told to wait 30 s and the log said the tab still could
      // not take events, after the fix.
      header = good;
      const before = reads;
      const res = await postJson(`${app.url}/api/events`, { kind: 'b' }, auth);
      assert.equal(res.status, 201, 'taken under the fixed header');
      assert.ok(reads > before, 'the header was read again');
      assert.equal(refusedLines(), 1, 'no second "cannot take events" line after the fix');
      assert.ok(log.lines.some((l) => l.event === 'app.events_header_fixed'));
    } finally {
      await app.close();
    }
  });
});

describe('POST /api/events, appends on their way when one fails', () => {
  it('an append begun before a failure and saved after it does not say appends are saved again; one begun after it does', async () => {
    const log = memoryLogger();
    const { app, sheets, auth } = await appWithBob(log);
    try {
      const append = sheets.append.bind(sheets);
      let release: () => void = () => {};
      const held = new Promise<void>((r) => (release = r));
      let calls = 0;
      sheets.append = async (range, rows, options) => {
        calls++;
        if (calls === 1) {
          await held;
          return append(range, rows, options);
        }
        if (calls === 2) throw new CorralError('CORRAL_ERR_JOURNAL_FULL', 'the journal is full');
        return append(range, rows, options);
      };
      const slow = postJson(`${app.url}/api/events`, { kind: 'slow' }, auth);
      await waitFor(() => calls === 1 || undefined, 5000, 'the first append on its way');
      assert.equal((await postJson(`${app.url}/api/events`, { kind: 'refused' }, auth)).status, 503);
      release();
      assert.equal((await slow).status, 201);
      const said = () => log.lines.filter((l) => l.event === 'app.event_append_failed' || l.event === 'app.event_append_recovered').map((l) => l.event);
      assert.deepEqual(said(), ['app.event_append_failed'], 'the append begun before the failure says nothing of its end');
      assert.equal((await postJson(`${app.url}/api/events`, { kind: 'after' }, auth)).status, 201);
      assert.deepEqual(said(), ['app.event_append_failed', 'app.event_append_recovered']);
    } finally {
      await app.close();
    }
  });
});

describe('POST /api/events body limit', () => {
  let app: AppHarness;
  let sheets: FakeSheets;
  let auth: Record<string, string>;
  before(async () => {
    ({ app, sheets, auth } = await appWithBob());
    auth = { ...auth, 'content-type': 'application/json' };
  });
  after(() => app.close());

  /** Every character as a \u escape (a surrogate pair outside the BMP), the keys too: JSON at its most escaped. */
  const escaped = (s: string) => `"${Array.from({ length: s.length }, (_, i) => `\\u${s.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;
  const mostEscaped = (kind: string, detail: string) => `{${escaped('kind')}: ${escaped(kind)}, ${escaped('detail')}: ${escaped(detail)}}`;

  it('takes the longest valid event in its most escaped JSON (Python json.dumps escapes non-ASCII), over 16 KiB', async () => {
    const kind = '🎉'.repeat(KIND_MAX);
    const detail = '😀'.repeat(DETAIL_MAX);
    const body = mostEscaped(kind, detail);
    assert.ok(Buffer.byteLength(body) > 16 * 1024, `${Buffer.byteLength(body)} bytes`);
    assert.ok(Buffer.byteLength(body) <= EVENT_BODY_LIMIT);
    const res = await fetch(`${app.url}/api/events`, { method: 'POST', headers: auth, body });
    assert.equal(res.status, 201, await res.clone().text());
    assert.deepEqual(sheets.appended.at(-1)?.rows[0]?.slice(1, 4), ['Bob', kind, detail]);
  });

  it('still refuses a body over the limit with 413, and one character too many with 400', async () => {
    const over = await fetch(`${app.url}/api/events`, { method: 'POST', headers: auth, body: JSON.stringify({ kind: 'tag', detail: 'x'.repeat(EVENT_BODY_LIMIT) }) });
    assert.equal(over.status, 413);
    assert.equal(((await over.json()) as { error: string }).error, 'body_too_large');
    const long = await fetch(`${app.url}/api/events`, { method: 'POST', headers: auth, body: mostEscaped('tag', '😀'.repeat(DETAIL_MAX + 1)) });
    assert.equal(long.status, 400);
    assert.equal(((await long.json()) as { field: string }).field, 'detail');
  });
});
