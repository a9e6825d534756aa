// POST /api/events with an Idempotency-Key, on the real master (2 workers, the emulator as Google):
// a retry gets the first answer back and the sheet gets one row, whichever worker the retry
// reaches, after the row was appended to the sheet, after a keeper kill -9 and after a restart.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Client, request } from 'undici';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http, type Reply } from '../helpers/http.js';

const ADMIN_TOKEN = 'idempotency-admin-token-1234';

async function keeperFigures(dataDir: string): Promise<{ journalBacklogRows: number; idempotencyKeys: number }> {
  const client = new Client('http://keeper', { socketPath: keeperSocketPath(dataDir) });
  try {
    const res = await client.request({ method: 'GET', path: '/figures' });
    return (await res.body.json()) as { journalBacklogRows: number; idempotencyKeys: number };
  } finally {
    await client.close();
  }
}

describe('POST /api/events with Idempotency-Key, on the real master', () => {
  let emu: Emulator;
  let dir: string;
  let c: CorralProcess;
  let env: Record<string, string>;

  before(async () => {
    emu = await startEmulator({});
    dir = mkdtempSync(join(tmpdir(), 'corral-idem-'));
    env = {
      SHEET_ID: emu.spreadsheetId,
      SHEETS_API_URL: emu.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(emu.registerServiceAccount()),
      SHEETS_FLUSH_INTERVAL_MS: '100',
      // An append whose outcome is unknown (a slow answer on a busy machine) is read back after
      // this, not after the default minute that would outlast the test's wait for the flush.
      SHEETS_UNSURE_DELAY: '2',
      CORRAL_RATE_LIMIT: '0',
      CORRAL_ADMIN_TOKEN: ADMIN_TOKEN,
      // Round-robin: retries on new connections reach both workers (with shared accept the
      // kernel may give them all to one, and the cross-worker replay would go untested).
      CORRAL_ACCEPT: 'round-robin',
    };
    c = await startCorral({ cwd: dir, workers: 2, env });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    await emu?.close();
  });

  const eventRows = () => (emu.getSheet(emu.spreadsheetId, 'Events') ?? []).slice(1);
  const rowsWithId = (id: string) => eventRows().filter((r) => r[0] === id).length;
  /** Every journaled row is in the emulator: what the sheet holds now is final. */
  const flushed = async () => {
    try {
      await waitFor(async () => (await keeperFigures(c.dataDir)).journalBacklogRows === 0, 30_000, 'the journal to flush into the emulator');
    } catch (err) {
      // Say why: the keeper's figures and what it logged about Google.
      const said = c.logs().filter((l) => l.role === 'keeper' && (l.level === 'warn' || l.level === 'error' || /journal|flush|append|sheets\./.test(String(l.event ?? l.msg))));
      throw new Error(`${(err as Error).message}; keeper figures ${JSON.stringify(await keeperFigures(c.dataDir))}; keeper lines ${JSON.stringify(said.slice(-10))}`);
    }
  };

  async function login(name: string, code: string): Promise<string> {
    const res = await http(`${c.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, code }) });
    assert.equal(res.status, 200, res.text);
    return res.json<{ token: string }>().token;
  }

  /** One request on a connection of its own (round-robin accept deals them to the workers in turn). */
  function post(token: string, body: unknown, key?: string): Promise<Reply> {
    return http(`${c.url}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, connection: 'close', ...(key !== undefined ? { 'idempotency-key': key } : {}) },
      body: JSON.stringify(body),
    });
  }

  function assertReplay(res: Reply, first: { id: string; at: string }): void {
    assert.equal(res.status, 201, res.text);
    assert.deepEqual(res.json(), first);
    assert.equal(res.headers['idempotent-replayed'], 'true');
  }

  it('a retry gets the first id and at and writes no second row: across workers, after the flush, a keeper kill -9 and a restart', async () => {
    const alice = await login('Alice Martin', 'P001');
    const key = randomUUID();
    const body = { kind: 'goal', detail: 'header, 88th minute' };
    const rowsBefore = eventRows().length;

    const created = await post(alice, body, key);
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers['idempotent-replayed'], undefined);
    const first = created.json<{ id: string; at: string }>();

    // Retries on connections of their own: round-robin accept spreads them over both workers.
    for (let i = 0; i < 4; i++) assertReplay(await post(alice, body, key), first);
    // The draft's quoted form (a Structured Field string) is the same key.
    assertReplay(await post(alice, body, `"${key}"`), first);
    const access = await waitFor(() => {
      const lines = c.events('access').filter((l) => l.path === '/api/events' && l.status === 201);
      return lines.length >= 6 && lines;
    }, 10_000, 'the access lines of the six posts');
    assert.equal(new Set(access.map((l) => l.worker)).size, 2, 'the retries reached both workers');

    await flushed();
    assert.equal(rowsWithId(first.id), 1, 'one row in the sheet');
    assert.equal(eventRows().length, rowsBefore + 1, 'and no other new row');

    // Operators see the keys held in the admin stats (the keeper's heartbeat, once a second).
    await waitFor(async () => {
      const stats = await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      const extra = stats.json<{ keeper: { extra: { idempotencyKeys?: number; idempotencyKeysEvicted?: number } } }>().keeper.extra;
      return extra.idempotencyKeys === 1 && extra.idempotencyKeysEvicted === 0;
    }, 10_000, 'idempotencyKeys 1 in the admin stats');

    // After the row was appended to the sheet (its journal entry is done).
    assertReplay(await post(alice, body, key), first);

    // Another body with the key: refused, nothing written.
    const other = await post(alice, { kind: 'goal', detail: 'another goal' }, key);
    assert.equal(other.status, 422, other.text);
    assert.equal(other.json<{ error: string }>().error, 'idempotency_key_reused');
    assert.match(other.json<{ message: string }>().message, /different request/);

    // Keys are the player's own: another player sending the same key makes a new event.
    const bruno = await login('Bruno Leroy', 'P002');
    const his = await post(bruno, body, key);
    assert.equal(his.status, 201, his.text);
    assert.equal(his.headers['idempotent-replayed'], undefined);
    assert.notEqual(his.json<{ id: string }>().id, first.id);

    // A keeper killed outright: the next one reads the key back from the journal.
    const keeper = await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper', 10_000, "the keeper's ready line");
    process.kill(Number(keeper.pid), 'SIGKILL');
    await c.waitForLog((l) => l.event === 'keeper.ready' && l.role === 'keeper' && l.pid !== keeper.pid, 30_000, 'a new keeper');
    assertReplay(await post(alice, body, key), first);

    // A whole restart of corral on the same data dir (its journal is compacted at open).
    await c.stop();
    renameSync(c.logFile, `${c.logFile}.first-run`);
    c = await startCorral({ cwd: dir, workers: 2, env });
    assertReplay(await post(alice, body, key), first);
    assert.equal((await post(alice, { kind: 'goal' }, key)).status, 422, 'the fingerprint is remembered too');

    await flushed();
    assert.equal(rowsWithId(first.id), 1, 'still one row');
    assert.equal(eventRows().length, rowsBefore + 2, "only Bruno's event was added");
  });

  it('without the header every post is a new event', async () => {
    const alice = await login('Alice Martin', 'P001');
    const a = await post(alice, { kind: 'ping' });
    const b = await post(alice, { kind: 'ping' });
    assert.equal(a.status, 201);
    assert.equal(b.status, 201);
    assert.notEqual(a.json<{ id: string }>().id, b.json<{ id: string }>().id);
  });

  it('a malformed key is a 400 that says what is wrong, and writes nothing', async () => {
    const alice = await login('Alice Martin', 'P001');
    const before = (await keeperFigures(c.dataDir)).idempotencyKeys;
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      ['k'.repeat(256), /256 characters long; at most 255/],
      ['tab\there', /printable ASCII/],
      ['caf\u00e9', /printable ASCII/],
      ['"unterminated', /no closing quote/],
    ];
    for (const [key, message] of cases) {
      const res = await post(alice, { kind: 'goal' }, key);
      assert.equal(res.status, 400, `${JSON.stringify(key)}: ${res.text}`);
      assert.equal(res.json<{ error: string }>().error, 'invalid_idempotency_key');
      assert.match(res.json<{ message: string }>().message, message);
    }
    // Two keys on one request.
    const two = await request(`${c.url}/api/events`, {
      method: 'POST',
      headers: ['content-type', 'application/json', 'authorization', `Bearer ${alice}`, 'idempotency-key', 'a', 'idempotency-key', 'b'],
      body: JSON.stringify({ kind: 'goal' }),
    });
    assert.equal(two.statusCode, 400);
    assert.match(await two.body.text(), /one Idempotency-Key/);
    // A key of 255 characters is taken.
    assert.equal((await post(alice, { kind: 'goal' }, 'k'.repeat(255))).status, 201);
    assert.equal((await keeperFigures(c.dataDir)).idempotencyKeys, before + 1, 'only the valid key was journaled');
  });
});
