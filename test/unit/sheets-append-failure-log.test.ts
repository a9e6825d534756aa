import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AppendFailureLog } from '../../src/sheets/keeper/append-failure-log.js';
import { memoryLogger } from '../fixtures/memory-logger.js';

test('a failed append of another cause than the last line (a workbook full after a blip of 503s) is said at once; the same cause at most once a minute', () => {
  let now = 0;
  const { logger, lines } = memoryLogger();
  const log = new AppendFailureLog(logger, () => now);
  const said = () => lines.filter((l) => l.event === 'sheets.append_failed' || l.event === 'sheets.append_recovered').map((l) => `${l.event} ${String(l.code ?? '')} ${String(l.failures)}`);
  // A blip: two failed sends, said once, and its end.
  log.failed('Events', 'warn', { rows: 3 }, 'sheets: append refused; rows stay in the journal and are resent later');
  now += 1000;
  log.failed('Events', 'warn', { rows: 3 }, 'sheets: append refused; rows stay in the journal and are resent later');
  now += 1000;
  log.succeeded('Events');
  // Another blip of the same cause 20 s later: counted, said with the next line.
  now += 20_000;
  log.failed('Events', 'warn', { rows: 1 }, 'sheets: append refused; rows stay in the journal and are resent later');
  assert.deepEqual(said(), ['sheets.append_failed  1', 'sheets.append_recovered  2']);
  // The workbook full, 5 s later: said at once, with its code.
  now += 5000;
  log.failed('Events', 'error', { rows: 4, code: 'CORRAL_ERR_SHEETS_WORKBOOK_FULL' }, 'sheets: the spreadsheet is at its cell limit');
  assert.deepEqual(said().at(-1), 'sheets.append_failed CORRAL_ERR_SHEETS_WORKBOOK_FULL 1');
  now += 1000;
  log.failed('Events', 'error', { rows: 4, code: 'CORRAL_ERR_SHEETS_WORKBOOK_FULL' }, 'sheets: the spreadsheet is at its cell limit');
  assert.equal(said().length, 3, 'the same cause again within the minute: counted, not said');
});
