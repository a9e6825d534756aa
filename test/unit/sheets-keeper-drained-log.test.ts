// `keeper.drained` says where rows the drain could not send stay, and who sends them
// (sheets/keeper/drained-log.ts): an audit found "kept for the next start" false when the next
// start used another data dir.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logDrained } from '../../src/sheets/keeper/drained-log.js';
import { captureLogger } from '../fixtures/capture-logger.js';

const base = { reason: 'shutdown', ms: 5000, journalPath: '/srv/a/sheets.journal', dataDir: '/srv/a' };

test('rows left at a stop: warn, naming the journal and the data dir whose corral sends them', async () => {
  const log = await captureLogger();
  try {
    logDrained(log.logger, { ...base, left: 30, leaving: true });
    const [line] = log.lines();
    assert.deepEqual([line?.event, line?.level, line?.rowsLeftInJournal, line?.journal, line?.dataDir, line?.leaving], ['keeper.drained', 'warn', 30, '/srv/a/sheets.journal', '/srv/a', true]);
    assert.match(String(line?.msg), /30 acknowledged rows not yet in the sheet: they stay in \/srv\/a\/sheets\.journal, and only a corral started with CORRAL_DATA_DIR=\/srv\/a sends them/);
    assert.doesNotMatch(String(line?.msg), /next start/);
  } finally {
    log.close();
  }
});

test('rows left when the master restarts the keeper: info, the next keeper on the same dir sends them; a failed drain is not "flushed"; none left: flushed', async () => {
  const log = await captureLogger();
  try {
    logDrained(log.logger, { ...base, reason: 'reload: keeper settings changed', left: 1, leaving: false });
    logDrained(log.logger, { ...base, left: -1, leaving: true });
    logDrained(log.logger, { ...base, left: 0, leaving: true });
    const [restart, failed, flushed] = log.lines();
    assert.equal(restart?.level, 'info');
    assert.match(String(restart?.msg), /1 acknowledged row not yet in the sheet: they stay in \/srv\/a\/sheets\.journal for the keeper the master starts next, on the same data dir/);
    assert.equal(failed?.level, 'warn');
    assert.match(String(failed?.msg), /drain failed.*stay in \/srv\/a\/sheets\.journal/);
    assert.deepEqual([flushed?.level, flushed?.msg], ['info', 'keeper drained; journal flushed']);
  } finally {
    log.close();
  }
});

test('rows held for another sheet at a stop: the wait it names is not journal_backlog 0 alone, which reads 0 while they are there', async () => {
  const log = await captureLogger();
  try {
    logDrained(log.logger, { ...base, left: 0, held: 3, leaving: true });
    const [line] = log.lines();
    assert.deepEqual([line?.level, line?.rowsLeftInJournal, line?.rowsHeldForOtherSheets], ['warn', 0, 3]);
    // journal_backlog (corral status: "journal empty") counts this sheet's rows only: an operator
    // who waited for it to read 0 moved or removed the data dir, and the held rows with it.
    assert.doesNotMatch(String(line?.msg), /wait for journal_backlog 0 before/);
    assert.match(String(line?.msg), /journal_held_rows 0/);
  } finally {
    log.close();
  }
});

test('rows sent with no answer kept (awaiting their read-back) are not said to be absent from the sheet: counted apart, with what the next keeper does', async () => {
  const log = await captureLogger();
  try {
    // A master killed mid-stop left 350 rows sent and unanswered; each stop of the keepers after
    // it, within SHEETS_UNSURE_DELAY of their start, said "350 acknowledged rows not yet in the
    // sheet" of rows that were all in it.
    logDrained(log.logger, { ...base, left: 352, unsure: 350, leaving: true });
    logDrained(log.logger, { ...base, left: 4, unsure: 4, leaving: false });
    logDrained(log.logger, { ...base, left: 2, unsure: 0, leaving: true });
    const [stop, restart, none] = log.lines();
    assert.deepEqual([stop?.level, stop?.rowsLeftInJournal, stop?.rowsAwaitingReadBack], ['warn', 352, 350]);
    assert.match(String(stop?.msg), /352 acknowledged rows not yet known to be in the sheet \(350 of them sent to Google, the answer lost: maybe in the sheet already; the next keeper reads the sheet back SHEETS_UNSURE_DELAY after their send and resends only those it does not find\): they stay in \/srv\/a\/sheets\.journal/);
    assert.doesNotMatch(String(stop?.msg), /rows not yet in the sheet/);
    assert.equal(restart?.rowsAwaitingReadBack, 4);
    assert.match(String(restart?.msg), /4 acknowledged rows not yet known to be in the sheet \(all 4 sent to Google, the answer lost/);
    assert.equal(none?.rowsAwaitingReadBack, undefined);
    assert.match(String(none?.msg), /2 acknowledged rows not yet in the sheet: /);
  } finally {
    log.close();
  }
});
