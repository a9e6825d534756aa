// The rows a write cut short began (journal-open.ts rowsBegunIn), which journal.torn_tail names.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rowsBegunIn } from '../../src/sheets/keeper/journal-open.js';
import { encodeRecord } from '../../src/sheets/keeper/journal-scan.js';

const add = (id: string, rows: string[][]) => encodeRecord({ k: 'add', id, r: 'Events', rows, at: 1, h: ['event_id', 'player_id'] });

test('the first cell of every row an add record began, however far the cut', () => {
  const record = add('e1', [['ev-1', 'P001', 'a],["b'], ['ev-"2"', 'P002']]);
  assert.deepEqual(rowsBegunIn(Buffer.from(record)), ['ev-1', 'ev-"2"'], 'the header and a cell holding ],[" are no rows');
  const second = record.indexOf('ev-\\"2');
  assert.deepEqual(rowsBegunIn(Buffer.from(record.slice(0, second + 5))), ['ev-1'], 'an id cut in half is left out');
  assert.deepEqual(rowsBegunIn(Buffer.from(record.slice(0, record.indexOf('"rows"') + 4))), []);
  // A group of records cut in its last one.
  const group = add('e2', [['ev-3']]) + add('e3', [['ev-4', 'x']]).slice(0, 70);
  assert.deepEqual(rowsBegunIn(Buffer.from(group)), ['ev-3', 'ev-4']);
  assert.deepEqual(rowsBegunIn(Buffer.from(encodeRecord({ k: 'send', ids: ['e1'], at: 2 } as never))), [], 'other records begin no rows');
  // An unfinished group's whole records: a split's rows after an add are no rows the add began.
  const split = encodeRecord({ k: 'split', id: 'e0', nid: 'e9', rows: [['ev-8'], ['ev-9']], at: 3 } as never);
  assert.deepEqual(rowsBegunIn(Buffer.from(add('e4', [['ev-5']]) + split)), ['ev-5']);
});
