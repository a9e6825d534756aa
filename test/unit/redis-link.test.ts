// The keeper's link to a real redis-server that answers but refuses what it is asked: a database
// it does not have. The keeper must never fall back to another database (its keys would mix with
// whatever lives there, and hosts configured alike would not share): it acts alone, as with Redis
// away, and says why.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { SheetsBackend } from '../../src/sheets/backend.js';
import { SheetSharing, type SharingSettings } from '../../src/sheets/keeper/sheet-sharing.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';
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

describe('the Redis link, refused by the server', { skip: redisMissing }, () => {
  const server = redisPerSuite();
  let log: CapturedLogger;
  const opened: SheetSharing[] = [];

  beforeEach(async () => {
    log = await captureLogger();
  });
  afterEach(async () => {
    for (const s of opened.splice(0)) await s.close();
    log.close();
  });

  it("a database the server does not have (…?db=16 of 16): nothing is written to database 0 or any other; the keeper acts alone, says once which database and Redis's error, and its figures say not connected", async () => {
    const sharing = await SheetSharing.open({ ...SETTINGS, REDIS_URL: `${server().url}?db=16` }, BACKEND, log.logger);
    assert.ok(sharing);
    opened.push(sharing);
    // open() waited for the connection, whose SELECT came back refused before it was ready.
    await sharing.quota.take('read');
    await sharing.ranges.put('Players', Buffer.from('[["name"]]'), Date.now(), Date.now());
    assert.equal(await sharing.ranges.get('Players'), undefined);
    assert.equal(server().cli('DBSIZE').trim(), '0', 'nothing written to database 0');
    const figures = sharing.figures();
    assert.equal(figures.redisConnected, false);
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
});
