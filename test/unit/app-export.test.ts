import assert from 'node:assert/strict';
import { once } from 'node:events';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { csvField, csvRows } from '../../src/app/export/csv.js';
import { acceptsGzip, attachmentOf } from '../../src/app/export/stream.js';
import { exportFilename, exportRange } from '../../src/app/routes/export.js';
import type { Logger } from '../../src/log/logger.js';
import { createFakeSheets, type FakeSheets } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';
import { readPaced } from '../helpers/paced-reader.js';

const TOKEN = 'admin-token-0123456789';

/** Raw GET (fetch would transparently gunzip and hide Content-Encoding). */
function rawGet(url: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * The cells a reader in Excel's `;` mode (French, German locales) makes of a .csv, as Python's csv
 * module (modelled on Excel) reads it with delimiter=';': a quote counts only at a cell's start,
 * `""` inside a quoted cell is a quote, and text after a closing quote is added to the cell.
 */
function semicolonCells(text: string): string[] {
  const cells: string[] = [];
  let i = 0;
  while (i < text.length) {
    let cell = '';
    if (text[i] === '"') {
      i++;
      for (; i < text.length; i++) {
        if (text[i] !== '"') cell += text[i];
        else if (text[i + 1] === '"') cell += text[i++];
        else {
          i++;
          break;
        }
      }
    }
    for (; i < text.length && !';\r\n'.includes(text[i] ?? ''); i++) cell += text[i];
    cells.push(cell);
    if (text[i] === '\r' && text[i + 1] === '\n') i++;
    i++;
  }
  return cells;
}

describe('CSV encoding', () => {
  it('quotes only what needs quoting (RFC 4180)', () => {
    assert.equal(csvField('plain'), 'plain');
    assert.equal(csvField('a,b'), '"a,b"');
    assert.equal(csvField('say "hi"'), '"say ""hi"""');
    assert.equal(csvField('two\nlines'), '"two\nlines"');
    assert.equal(csvField(' padded'), '" padded"');
  });

  it('defuses cells a spreadsheet would run as formulas (OWASP CSV injection)', () => {
    assert.equal(csvField('=HYPERLINK("http://evil","x")'), `"'=HYPERLINK(""http://evil"",""x"")"`);
    assert.equal(csvField('+cmd'), "'+cmd");
    assert.equal(csvField('-2+3'), "'-2+3");
    assert.equal(csvField('@SUM(A1)'), "'@SUM(A1)");
    // A tab first: what follows it is defused, whether a program skips the tab or cuts a cell there.
    assert.equal(csvField('\t=1'), `"\t'=1"`);
    // A tab before text that cannot be a formula (the README's example of what is left alone).
    assert.equal(csvField('\tTAB'), '"\tTAB"');
    // A CR or LF first is a cut, as a tab is: what follows it is defused.
    assert.equal(csvField('\r=1'), `"\r'=1"`);
    assert.equal(csvField('\n@x'), `"\n'@x"`);
    // Plain numbers and text with a sign elsewhere are left as they are.
    assert.equal(csvField('-5'), '-5');
    // In scientific notation too (Sheets' "-1.00E+05" format): a number, not text in Excel.
    for (const n of ['-1e5', '-1.00E+05', '+2.5e-3']) assert.equal(csvField(n), n);
    assert.equal(csvField('-1e5+cmd'), "'-1e5+cmd");
    assert.equal(csvField('+3.25'), '+3.25');
    // As the Sheets API formats numbers (Number, Currency, Percent): numbers in Excel, not text with a `'`.
    for (const n of ['-1,234.50', '-1,234,567', '-$5.00', '-€1,234.50', '-5%', '-5.00%', '+£3']) assert.equal(csvField(n), n.includes(',') ? `"${n}"` : n);
    // Anything more is still defused.
    for (const n of ['-1,234+cmd', '-$A$1', '-5%+1', '-1,2,3', '-$', '-%']) assert.equal(csvField(n), n.includes(',') ? `"'${n}"` : `'${n}`);
    assert.equal(csvField('a=b'), 'a=b');
    assert.equal(csvRows([['id', 'note'], ['1', '=1+1']], 2), "id,note\r\n1,'=1+1\r\n");
  });

  it('leaves a number as a sheet in a decimal-comma locale formats it (French, German): a number in Excel, not text with a `\'`', () => {
    // The Sheets API formats values in the spreadsheet's locale: fr_FR groups with a narrow
    // no-break space and writes the sign after a no-break space, de_DE groups with a dot.
    for (const n of ['-1,23', '-0,5', '-1\u202f234,50', '-1\u00a0234,50', '-1 234,50', '-1.234,50', '-1\u202f234,50\u00a0€', '-5,00\u00a0%', '-5,00 %', '-5,00%', '-1,50E+05', '+3,25'])
      assert.equal(csvField(n), n.includes(',') ? `"${n}"` : n, JSON.stringify(n));
    // Anything more is still defused: letters, a reference, a second sign, a group that is not three digits.
    for (const n of ['-1,23+cmd', '-1 234,5 A1', '-1 23,50', '-1.23,50', '-5,00 %+1', '-,', '- 5', '-5 €x'])
      assert.equal(csvField(n), n.includes(',') || / $|^ /.test(n) ? `"'${n}"` : `'${n}`, JSON.stringify(n));
  });

  it('quotes a first field starting with ID at the start of the file: Excel takes a file whose first bytes are ID for SYLK and refuses it', () => {
    assert.equal(csvRows([['ID', 'name'], ['ID', 'Zoé']], 2, true), '"ID",name\r\nID,Zoé\r\n');
    assert.equal(csvRows([['IDs'], ['x']], 1, true), '"IDs"\r\nx\r\n');
    // Lower case, or any chunk after the first, is no SYLK header.
    assert.equal(csvRows([['id', 'name']], 2, true), 'id,name\r\n');
    assert.equal(csvRows([['ID', 'name']], 2), 'ID,name\r\n');
  });

  it("defuses what would start a cell where Excel's `;` separator (French, German locales) or a tab cuts the text", () => {
    // Quoting cannot help there: in `;` mode a quote counts only at a cell's start.
    assert.equal(csvField("gg;=cmd|' /C calc'!A0;x"), "gg;'=cmd|' /C calc'!A0;x");
    assert.equal(csvField('a;+1+1;@SUM(A1);-2+3'), "a;'+1+1;'@SUM(A1);'-2+3");
    assert.equal(csvField('a\t=1'), "a\t'=1");
    assert.equal(csvField('=1;=2'), "'=1;'=2");
    // What follows a separator and cannot be a formula is left as it is.
    assert.equal(csvField('score;-5;+3.25;ok'), 'score;-5;+3.25;ok');
    assert.equal(csvField('a;b=c'), 'a;b=c');
    // Every cell Excel's `;` mode would see in the record starts as text.
    const line = csvRows([['id', 'kind', 'detail'], ['1', 'note', "gg;=cmd|' /C calc'!A0;@x"]], 3).split('\r\n')[1] ?? '';
    for (const cell of line.split(';')) assert.doesNotMatch(cell, /^[=+@-]/, `cell ${JSON.stringify(cell)} of ${JSON.stringify(line)}`);
  });

  it("defuses what starts a record or a cell in Excel's `;` mode after a line break or a quote inside a field", () => {
    // In `;` mode the quote opening a field that does not start the line is text, so a line break
    // inside it ends the record: what follows starts a row. And a piece `"=…` after a `;` is
    // written `""=…`, read as an empty quoted string and then `=…`.
    assert.equal(csvField("gg\n=cmd|' /C calc'!A0;x"), `"gg\n'=cmd|' /C calc'!A0;x"`);
    assert.equal(csvField('gg\r+1+1;y'), `"gg\r'+1+1;y"`);
    assert.equal(csvField('x;"=2+2;z'), `"x;'""=2+2;z"`);
    // Left alone: a quote before text that is no formula, a number after a line break.
    assert.equal(csvField('x;"ok"'), `"x;""ok"""`);
    assert.equal(csvField('a\n-5'), `"a\n-5"`);
    const details = ["gg\n=cmd|' /C calc'!A0;x", 'gg\r\n@SUM(A1);y', 'x;"=2+2;z', 'x;"-1+2', 'a\t"+1;b', '\n=1', '"=1'];
    const csv = csvRows([['id', 'kind', 'detail'], ...details.map((d, i) => [`e${i}`, 'note', d])], 3);
    for (const cell of semicolonCells(csv)) assert.doesNotMatch(cell, /^[=+@-]/, `cell ${JSON.stringify(cell)} of ${JSON.stringify(csv)}`);
  });

  it("defuses a number ending a field after a `;`: in `;` mode its cell runs on into the next column's text", () => {
    // A player's kind `x;-2` and detail `3+cmd|…;` (adjacent columns of the Events tab): in
    // French Excel the cell after the `;` is `-2,3+cmd|' /C calc'!A0` (OWASP's `-2+3+cmd|…`, with
    // the French decimal comma), a formula, though each piece alone looked harmless.
    const row = ['0b9c6d7e-1111-2222-3333-444455556666', 'Alice', 'x;-2', "3+cmd|' /C calc'!A0;", '2024-05-01T10:00:00.000Z'];
    const csv = csvRows([row], 5);
    const plain = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$/;
    for (const cell of semicolonCells(csv)) {
      if (!plain.test(cell)) assert.doesNotMatch(cell, /^[=+@-]/, `cell ${JSON.stringify(cell)} of ${JSON.stringify(csv)}`);
    }
    // A number followed by another `;` is a cell of its own there, and stays a number.
    assert.equal(csvField('score;-5;+3.25;ok'), 'score;-5;+3.25;ok');
    assert.equal(csvField('x;-2'), "x;'-2");
    assert.equal(csvField("x;-2\t3+cmd|' /C calc'!A0;"), "x;'-2\t3+cmd|' /C calc'!A0;");
    // Quoted, a closing quote follows the number: `-2"…` is no formula, and it is left as it is.
    assert.equal(csvField('x,y;-2'), '"x,y;-2"');
  });

  it("defuses a number that starts a record and runs on into the next column: in `;` mode it is the cell's start", () => {
    // A range export that starts at a column players write (`Events!C:E`: kind, detail, at): the
    // kind `-2` and detail `3+cmd|…;` made the record's first `;` cell `-2,3+cmd|' /C calc'!A0`.
    const csv = csvRows([['-2', "3+cmd|' /C calc'!A0;", '2024-05-01T10:00:00.000Z']], 3);
    const plain = /^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?$/;
    for (const cell of semicolonCells(csv)) {
      if (!plain.test(cell)) assert.doesNotMatch(cell, /^[=+@-]/, `cell ${JSON.stringify(cell)} of ${JSON.stringify(csv)}`);
    }
    // Before a tab too, which a `;` reader does not cut on; before a `;`, its cell ends there.
    assert.equal(csvRows([['-2\t3', 'x']], 2), "'-2\t3,x\r\n");
    assert.equal(csvRows([['-2;x', 'y']], 2), '-2;x,y\r\n');
    // Alone on its line, or not first, nothing runs on into it: it stays a number.
    assert.equal(csvRows([['-2']], 1), '-2\r\n');
    assert.equal(csvRows([['a', '-2', 'b']], 3), 'a,-2,b\r\n');
  });

  it('pads trimmed rows to the header width', () => {
    assert.equal(csvRows([['a', 'b', 'c'], ['1'], []], 3), 'a,b,c\r\n1,,\r\n,,\r\n');
  });

  it('names the download in ASCII, and in UTF-8 with filename* when a character had to go', () => {
    assert.equal(attachmentOf('Players.csv'), 'attachment; filename="Players.csv"');
    assert.equal(attachmentOf('Jöueurs (2024).csv'), `attachment; filename="J_ueurs__2024_.csv"; filename*=UTF-8''J%C3%B6ueurs%20%282024%29.csv`);
    assert.equal(decodeURIComponent(attachmentOf('EMOJI 🎉.csv').split("UTF-8''")[1] ?? ''), 'EMOJI 🎉.csv');
  });

  it('writes an empty one-field record as "", not a blank line a CSV reader would skip', () => {
    assert.equal(csvRows([['h1'], [], ['d']], 1), 'h1\r\n""\r\nd\r\n');
  });

  it('reads Accept-Encoding with q-values', () => {
    const req = (v?: string) => ({ headers: v === undefined ? {} : { 'accept-encoding': v } }) as never;
    assert.equal(acceptsGzip(req('gzip, deflate, br')), true);
    assert.equal(acceptsGzip(req('br;q=1.0, gzip;q=0')), false);
    assert.equal(acceptsGzip(req('identity')), false);
    assert.equal(acceptsGzip(req()), false);
  });

  it('lets an explicit gzip;q=0 win over * (RFC 9110 §12.5.3)', () => {
    const req = (v: string) => ({ headers: { 'accept-encoding': v } }) as never;
    assert.equal(acceptsGzip(req('gzip;q=0, *')), false);
    assert.equal(acceptsGzip(req('*, gzip;q=0')), false);
    assert.equal(acceptsGzip(req('gzip ; q=0.5')), true);
    assert.equal(acceptsGzip(req('*;q=0, gzip')), true);
    assert.equal(acceptsGzip(req('br, *')), true);
    assert.equal(acceptsGzip(req('*;q=0')), false);
  });
});

describe('GET /api/export', () => {
  const ROWS = 50_000;
  let app: AppHarness;
  let expected: string;
  before(async () => {
    const values: string[][] = [['id', 'name', 'note']];
    for (let i = 1; i <= ROWS; i++) values.push([String(i), `player ${i}`, i % 1000 === 0 ? 'has, comma' : 'x']);
    expected = csvRows(values, 3);
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_EXPORT_THREADS: '2' }, createFakeSheets({ Big: values }));
  });
  after(() => app.close());

  it('refuses a missing or wrong admin token', async () => {
    assert.equal((await rawGet(`${app.url}/api/export?sheet=Big`, {})).status, 401);
    assert.equal((await rawGet(`${app.url}/api/export?sheet=Big`, { authorization: 'Bearer nope' })).status, 401);
    const r = await rawGet(`${app.url}/api/export?sheet=Big`, { authorization: `Bearer ${TOKEN}x` });
    assert.equal(r.status, 401);
    assert.ok(!r.body.toString().includes('player 1'));
  });

  it('validates the sheet parameter', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const missing = await rawGet(`${app.url}/api/export`, auth);
    assert.equal(missing.status, 400);
    assert.equal(JSON.parse(missing.body.toString()).field, 'sheet');
    const unknown = await rawGet(`${app.url}/api/export?sheet=Nope`, auth);
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body.toString()).field, 'sheet');
  });

  it('streams 50,000 rows as CSV, plain and gzipped, byte for byte', async () => {
    const plain = await rawGet(`${app.url}/api/export?sheet=Big`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(plain.status, 200);
    assert.match(String(plain.headers['content-type']), /text\/csv/);
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.headers['transfer-encoding'], 'chunked');
    assert.equal(plain.body.toString('utf8'), expected);

    const zipped = await rawGet(`${app.url}/api/export?sheet=Big`, { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' });
    assert.equal(zipped.status, 200);
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.ok(zipped.body.length < plain.body.length / 3, 'gzip actually compressed');
    assert.equal(gunzipSync(zipped.body).toString('utf8'), expected);
  });
});

describe('GET /api/export with a sheet= that is not UTF-8', () => {
  let app: AppHarness;
  let fake: FakeSheets;
  before(async () => {
    fake = createFakeSheets({ Jöueurs: [['name'], ['Zoé']] });
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, fake);
  });
  after(() => app.close());
  const get = (query: string) => rawGet(`${app.url}/api/export?${query}`, { authorization: `Bearer ${TOKEN}` });

  it('refuses bytes that are not UTF-8 with 400 invalid_field naming them, before any read', async () => {
    for (const query of ['sheet=%E0%A4', 'sheet=J%F6ueurs', '%73heet=%FF', 'sheet=Players%C3']) {
      const reads = fake.reads;
      const r = await get(query);
      assert.equal(r.status, 400, query);
      const body = JSON.parse(r.body.toString()) as { error: string; field: string; message: string };
      assert.equal(body.error, 'invalid_field');
      assert.equal(body.field, 'sheet');
      assert.match(body.message, /is not UTF-8 once percent-decoded/);
      assert.ok(body.message.includes(query.split('=')[1]!), body.message);
      assert.doesNotMatch(body.message, /\uFFFD/);
      assert.equal(fake.reads, reads, `${query}: nothing read`);
    }
  });

  it('takes a name in UTF-8, and a U+FFFD actually sent is no encoding error', async () => {
    const ok = await get('sheet=J%C3%B6ueurs');
    assert.equal(ok.status, 200);
    assert.equal(ok.body.toString(), 'name\r\nZoé\r\n');
    const replacement = await get('sheet=%EF%BF%BD');
    assert.equal(replacement.status, 400);
    assert.doesNotMatch(JSON.parse(replacement.body.toString()).message, /not UTF-8/);
  });
  it('refuses a parameter it does not take, naming it (a misspelt bom= would drop the mark unsaid), before any read', async () => {
    for (const [query, field, hint] of [
      ['sheet=J%C3%B6ueurs&Bom=1', 'Bom', /names are lower case: bom=/],
      ['sheet=J%C3%B6ueurs&boom=1', 'boom', /takes sheet=.* and bom=1 or 0/],
      ['SHEET=Players', 'SHEET', /names are lower case: sheet=/],
      ['sheet=J%C3%B6ueurs&other=%FF', 'other', /unknown parameter other/],
    ] as const) {
      const reads = fake.reads;
      const r = await get(query);
      assert.equal(r.status, 400, query);
      const body = JSON.parse(r.body.toString()) as { error: string; field: string; message: string };
      assert.deepEqual([body.error, body.field], ['invalid_field', field], query);
      assert.match(body.message, hint);
      assert.equal(fake.reads, reads, `${query}: nothing read`);
    }
  });

  it('says which of its rules a sheet= breaks: a control character, or more than 200 characters', async () => {
    const control = JSON.parse((await get('sheet=a%00b')).body.toString()) as { field: string; message: string };
    assert.equal(control.field, 'sheet');
    assert.match(control.message, /control character/);
    const long = JSON.parse((await get(`sheet=${'x'.repeat(201)}`)).body.toString()) as { message: string };
    assert.match(long.message, /201 characters long; .* at most 200/);
  });

  it('starts the CSV with a UTF-8 byte order mark for bom=1 (Excel), plain and gzipped; refuses any other bom= before a read', async () => {
    const withMark = await get('sheet=J%C3%B6ueurs&bom=1');
    assert.equal(withMark.status, 200);
    assert.deepEqual([...withMark.body.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
    assert.equal(withMark.body.subarray(3).toString(), 'name\r\nZoé\r\n');
    const zipped = await rawGet(`${app.url}/api/export?sheet=J%C3%B6ueurs&bom=1`, { authorization: `Bearer ${TOKEN}`, 'accept-encoding': 'gzip' });
    assert.equal(zipped.headers['content-encoding'], 'gzip');
    assert.equal(gunzipSync(zipped.body).toString('latin1').slice(0, 3), '\xef\xbb\xbf');
    const without = await get('sheet=J%C3%B6ueurs&bom=0');
    assert.equal(without.body.toString(), 'name\r\nZoé\r\n');
    for (const query of ['bom=yes', 'bom=', 'bom=1&bom=1']) {
      const reads = fake.reads;
      const r = await get(`sheet=J%C3%B6ueurs&${query}`);
      assert.equal(r.status, 400, query);
      const body = JSON.parse(r.body.toString()) as { error: string; field: string; message: string };
      assert.deepEqual([body.error, body.field], ['invalid_field', 'bom'], query);
      assert.match(body.message, /bom must be 1 .* or 0/);
      assert.equal(fake.reads, reads, `${query}: nothing read`);
    }
  });
});

describe('GET /api/export of a ragged tab', () => {
  let app: AppHarness;
  before(async () => {
    // As the Sheets API answers: trailing empty cells trimmed, an empty row as [], and a row wider
    // than the header (a note typed past the last column).
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, createFakeSheets({ Ragged: [['h1'], ['a', 'b', 'c'], [], ['d']] }));
  });
  after(() => app.close());

  it('pads every row to the widest row, so each record has as many fields', async () => {
    const r = await rawGet(`${app.url}/api/export?sheet=Ragged`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString('utf8'), 'h1,,\r\na,b,c\r\n,,\r\nd,,\r\n');
  });
});

describe("GET /api/export and the worker's cache", () => {
  let app: AppHarness;
  let fake: FakeSheets;
  before(async () => {
    fake = createFakeSheets({ Events: [['event_id'], ['ev-1']] });
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, fake);
  });
  after(() => app.close());

  it('reads the tab with keep: false, so that the worker keeps no copy of it once the export is sent', async () => {
    const r = await rawGet(`${app.url}/api/export?sheet=Events`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200);
    assert.deepEqual(fake.readCalls.at(-1), { range: 'Events', options: { keep: false } });
  });
});

describe('GET /api/export of a tab named like a cell', () => {
  it('reads a bare name as a tab, quoted where A1 needs it; a range or a quoted name as written', () => {
    assert.deepEqual(
      ['Players', 'FY2024', 'T7', 'Q1', 'My Tab', "Bob's", 'Events!A:C', 'A1:C10', "'Q1'", "'My Tab'!A1"].map(exportRange),
      ['Players', "'FY2024'", "'T7'", "'Q1'", "'My Tab'", "'Bob''s'", 'Events!A:C', 'A1:C10', "'Q1'", "'My Tab'!A1"],
    );
  });

  it("names the download after the tab's own title, A1's quoting undone, or after a range that names no tab", () => {
    assert.deepEqual(
      ['Players', "It's", "'It''s'!A:C", 'Events!A:C', "'My Tab'!A1", 'FY2024', 'A1:B2'].map(exportFilename),
      ['Players', "It's", "It's", 'Events', 'My Tab', 'FY2024', 'A1:B2'],
    );
    assert.equal(attachmentOf(`${exportFilename("It's")}.csv`), `attachment; filename="It_s.csv"; filename*=UTF-8''It%27s.csv`);
  });

  let app: AppHarness;
  before(async () => {
    // The fake answers the range as the keeper is asked for it: only the quoted tab exists.
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, createFakeSheets({ "'FY2024'": [['month', 'total'], ['jan', '3']] }));
  });
  after(() => app.close());

  it('exports the tab FY2024 whole, not cell FY2024 of the first tab, named after it', async () => {
    const r = await rawGet(`${app.url}/api/export?sheet=FY2024`, { authorization: `Bearer ${TOKEN}` });
    assert.equal(r.status, 200, r.body.toString());
    assert.equal(r.body.toString('utf8'), 'month,total\r\njan,3\r\n');
    assert.match(String(r.headers['content-disposition']), /filename="FY2024\.csv"/);
    assert.equal(r.headers['x-content-type-options'], 'nosniff', 'as every JSON answer');
  });
});

describe('GET /api/export, client gone mid-stream', () => {
  let app: AppHarness;
  let fake: ReturnType<typeof createFakeSheets>;
  before(async () => {
    // About 27 MB of CSV: far more than the loopback socket buffers hold.
    const cell = 'x'.repeat(300);
    const values: string[][] = [['id', 'a', 'b', 'c']];
    for (let i = 1; i <= 30_000; i++) values.push([String(i), cell, cell, cell]);
    fake = createFakeSheets({ Fat: values });
    app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_EXPORT_THREADS: '1' }, fake);
  });
  after(() => app.close());

  /** The app.export* events the app logs from now until stop(). */
  function captureExportEvents(): string[] & { stop(): void } {
    const events = [] as unknown as string[] & { stop(): void };
    const logger = app.ctx.logger as unknown as { info: (obj: unknown, ...rest: unknown[]) => void };
    const info = logger.info;
    logger.info = (obj: unknown, ...rest: unknown[]) => {
      const event = (obj as { event?: unknown } | null)?.event;
      if (typeof event === 'string' && event.startsWith('app.export')) events.push(event);
      info.call(logger, obj, ...rest);
    };
    events.stop = () => {
      logger.info = info;
    };
    return events;
  }

  it('does not log an export the client abandoned as exported', async () => {
    const events = captureExportEvents();
    const { port } = new URL(app.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.write(`GET /api/export?sheet=Fat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    await once(socket, 'data');
    socket.pause();
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.destroy();
    const deadline = Date.now() + 10_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    events.stop();
    assert.deepEqual([...events], ['app.export_aborted']);
  });

  for (const gzip of [false, true]) {
    it(`ends an export whose client left while the sheet was read${gzip ? ' (gzip)' : ''}, logged as aborted`, async () => {
      // Each export waits 300 ms for its sheet; the client is gone after 50. Its response was
      // already closed when streaming began: waiting for 'drain' or 'close' then never ended.
      const read = fake.read;
      fake.read = async (range) => {
        await new Promise((resolve) => setTimeout(resolve, 300));
        return read(range);
      };
      const events = captureExportEvents();
      try {
        const { port } = new URL(app.url);
        const socket = connect(Number(port), '127.0.0.1');
        socket.write(`GET /api/export?sheet=Fat HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\n${gzip ? 'Accept-Encoding: gzip\r\n' : ''}\r\n`);
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
        const deadline = Date.now() + 5_000;
        while (events.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        assert.deepEqual([...events], ['app.export_aborted']);
      } finally {
        fake.read = read;
        events.stop();
      }
    });
  }
});

describe('an export to a client that stops reading', () => {
  it('is cut off once the socket has taken nothing for the send-stall time, and says so', { timeout: 20_000 }, async (t) => {
    const { createServer } = await import('node:http');
    const { createCsvPool } = await import('../../src/app/export/pool.js');
    const { streamCsv } = await import('../../src/app/export/stream.js');
    const pool = createCsvPool(1);
    // About 12 MB of CSV: far more than loopback's socket buffers hold for a client that never reads.
    const values = Array.from({ length: 60_000 }, (_, i) => [`row-${i}`, 'x'.repeat(200)]);
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    let reset = false;
    const server = createServer((req, res) => {
      // How the cut closes the connection (a reset), watched on the server's side: what the client
      // then sees of it is the kernel's (Linux reports a reset with unread data as an end).
      const sock = req.socket as typeof req.socket & { resetAndDestroy(): unknown };
      const resetAndDestroy = sock.resetAndDestroy.bind(sock);
      sock.resetAndDestroy = () => {
        reset = true;
        return resetAndDestroy();
      };
      void streamCsv(req, res, pool, values, 'big', { sendStallMs: 300 }).then(ended);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const socket = connect(port, '127.0.0.1');
    t.after(async () => {
      socket.destroy();
      server.closeAllConnections();
      server.close();
      await pool.close();
    });
    await once(socket, 'connect');
    socket.pause(); // reads nothing until the server has given up
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await end, 'stalled');
    // The connection is reset, not closed with a FIN: a FIN left the unsent megabytes in the kernel
    // as an orphan in FIN-WAIT-1, probing the client's zero window for minutes (as the worker's send
    // timeout avoids). Once the client reads again, it gets what reached it, short of the whole CSV.
    assert.ok(reset, 'the stalled connection is reset');
    let received = 0;
    socket.on('data', (d: Buffer) => (received += d.length));
    socket.on('error', () => undefined);
    socket.resume();
    await once(socket, 'close');
    assert.ok(received < 60_000 * 200, `received ${received} bytes`);
  });
});

describe('an export to a client that reads slowly but steadily', () => {
  it('is not cut off while the client reads, though one whole chunk takes longer than the send-stall time', { timeout: 30_000 }, async (t) => {
    const { createServer } = await import('node:http');
    const { createCsvPool } = await import('../../src/app/export/pool.js');
    const { CHUNK_ROWS, streamCsv } = await import('../../src/app/export/stream.js');
    const pool = createCsvPool(1);
    // One chunk of about 20 MB (2000 rows of 10 KB), far more than loopback's socket buffers hold,
    // then a row; the client reads 512 KB every 100 ms, so the chunk takes about 4 s to go out,
    // against a stall time of 1.5 s. The kernel wakes a writer each time a third of its send buffer
    // (4 MB at most here) is free again, about every 0.3 s at this pace: what a client must keep up
    // with, as under nginx's send_timeout.
    const values = Array.from({ length: CHUNK_ROWS + 1 }, (_, i) => [`row-${i}`, 'x'.repeat(10_000)]);
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    const server = createServer((req, res) => {
      void streamCsv(req, res, pool, values, 'wide', { sendStallMs: 1500 }).then(ended);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const socket = connect({ port, host: '127.0.0.1' });
    const reader = readPaced(socket);
    t.after(async () => {
      reader.stop();
      socket.destroy();
      server.closeAllConnections();
      server.close();
      await pool.close();
    });
    await once(socket, 'connect');
    const started = Date.now();
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await end, 'complete');
    // The load was what it says: the export outlasted the stall time.
    assert.ok(Date.now() - started > 1500, `the export took ${Date.now() - started} ms`);
    assert.ok(reader.received() > 0, 'the client was reading while the export went out');
  });
});

type CsvPool = import('../../src/app/export/pool.js').CsvPool;
type RequestListener = import('node:http').RequestListener;

/**
 * A real worker server of one 60,000-row export (about 12 MB of CSV: far more than the loopback
 * socket buffers hold) asked for by a client that reads nothing. `handler` streams it with `pool`.
 * The client and the pool are closed after the test; the worker is drained there too unless
 * `drainedByTest`.
 */
async function exportToPausedClient(
  t: { after(fn: () => Promise<void>): void },
  o: { env: Record<string, string>; accessLogger?: Logger; drainedByTest?: boolean; handler: (pool: CsvPool, values: string[][]) => RequestListener },
) {
  const { loadSettings } = await import('../../src/config/load.js');
  const { createLogger } = await import('../../src/log/logger.js');
  const { createWorkerServer } = await import('../../src/worker/server.js');
  const { createCsvPool } = await import('../../src/app/export/pool.js');
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent', ...o.env } });
  const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
  const pool = createCsvPool(1);
  const values = Array.from({ length: 60_000 }, (_, i) => [`row-${i}`, 'x'.repeat(200)]);
  const worker = createWorkerServer(o.handler(pool, values), { settings, logger, accessLogger: o.accessLogger, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined });
  const { port } = await worker.listen();
  const socket = connect(port, '127.0.0.1');
  t.after(async () => {
    socket.destroy();
    if (!o.drainedByTest) await worker.drain(100);
    await pool.close();
  });
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  socket.pause(); // reads nothing
  socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
  return worker;
}

describe('an export under the worker server', () => {
  it("stalls by its own send-stall time, not the worker's CORRAL_SEND_TIMEOUT, so its log says why, and its access line that it cut the client (cut: send_stall), not the client", { timeout: 20_000 }, async (t) => {
    const { streamCsv } = await import('../../src/app/export/stream.js');
    const lines: Record<string, unknown>[] = [];
    const accessLogger = { info: (l: Record<string, unknown>) => void lines.push(l) } as unknown as Logger;
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    await exportToPausedClient(t, {
      env: { CORRAL_SEND_TIMEOUT: '1' },
      accessLogger,
      handler: (pool, values) => (req, res) => {
        const started = Date.now();
        void streamCsv(req, res, pool, values, 'big', { sendStallMs: 2500 }).then((how) => ended(`${how} after ${Date.now() - started >= 2500 ? 'the stall time' : 'less'}`));
      },
    });
    assert.equal(await end, 'stalled after the stall time');
    // Its access line: a 499 the export caused, said apart from a client that left.
    const deadline = Date.now() + 2000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual([lines[0]?.status, lines[0]?.cut], [499, 'send_stall'], JSON.stringify(lines[0]));
  });
});

describe('an export cut by the worker at the end of a drain', () => {
  it("ends as the worker's drain cut it, not as the client closing, when the graceful time runs out before its end", { timeout: 20_000 }, async (t) => {
    const { streamCsv } = await import('../../src/app/export/stream.js');
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    let started!: () => void;
    const streaming = new Promise<void>((resolve) => (started = resolve));
    const worker = await exportToPausedClient(t, {
      env: {},
      drainedByTest: true,
      handler: (pool, values) => (req, res) => {
        started();
        void streamCsv(req, res, pool, values, 'big').then(ended);
      },
    });
    // The export is under way when the graceful time runs out.
    await streaming;
    await worker.drain(300);
    assert.equal(await end, 'drain');
  });
});

describe('an export whose threads cannot start', () => {
  it('fails before any byte is sent, so the route can answer 503 rather than a 200 cut short', async (t) => {
    const { createServer } = await import('node:http');
    const { ExportPrepareError, streamCsv } = await import('../../src/app/export/stream.js');
    // As piscina fails when the process or thread limit refuses it a thread.
    const refused = Object.assign(new Error('Worker initialization failure: EAGAIN'), { code: 'ERR_WORKER_INIT_FAILED' });
    const pool = { format: () => Promise.reject(refused), close: async () => undefined };
    const seen: { error?: unknown; headersSent?: boolean } = {};
    const server = createServer((req, res) => {
      streamCsv(req, res, pool, [['a', 'b'], ['1', '2']], 'x').then(
        () => res.end(),
        (err: unknown) => {
          seen.error = err;
          seen.headersSent = res.headersSent;
          res.writeHead(503).end();
        },
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    t.after(() => {
      server.closeAllConnections();
      server.close();
    });
    const { port } = server.address() as { port: number };
    const answer = await rawGet(`http://127.0.0.1:${port}/export`, {});
    assert.equal(answer.status, 503);
    assert.ok(seen.error instanceof ExportPrepareError);
    assert.equal((seen.error as Error).cause, refused);
    assert.equal(seen.headersSent, false);
  });
});

describe('the export thread pool when the system will not start a thread', () => {
  it('fails the export, and its close leaves no task behind to throw at the worker\'s drain', async (t) => {
    const { createCsvPool } = await import('../../src/app/export/pool.js');
    const unhandled: unknown[] = [];
    const onUnhandled = (err: unknown) => unhandled.push(err);
    process.on('unhandledRejection', onUnhandled);
    t.after(() => process.off('unhandledRejection', onUnhandled));
    // A stack no thread can have: its creation fails with EAGAIN, as under a thread limit.
    const pool = createCsvPool(1, { resourceLimits: { stackSizeMb: 1e9 } });
    for (let i = 0; i < 2; i++) await assert.rejects(pool.format({ rows: [['a']], width: 1 }), { code: 'ERR_WORKER_INIT_FAILED' });
    await pool.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(unhandled, [], 'no orphaned task rejected at the close');
  });
});

describe('an export whose client leaves while its first rows are formatted', () => {
  it('ends as the client closing, at once, not after a send stall per slice', { timeout: 20_000 }, async (t) => {
    const { createServer } = await import('node:http');
    const { createCsvPool } = await import('../../src/app/export/pool.js');
    const { streamCsv } = await import('../../src/app/export/stream.js');
    // A cold pool: its thread starts with the first rows, and the client leaves before they are done.
    const pool = createCsvPool(1);
    const values = Array.from({ length: 50_000 }, (_, i) => [`row-${i}`, 'x'.repeat(50)]);
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    const server = createServer((req, res) => {
      const started = Date.now();
      void streamCsv(req, res, pool, values, 'big', { sendStallMs: 2000 }).then((how) => ended(`${how} in ${Date.now() - started < 2000 ? 'less than' : 'over'} the stall time`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    t.after(async () => {
      server.closeAllConnections();
      server.close();
      await pool.close();
    });
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
    // Gone within a few ms, long before a cold thread has formatted its first rows.
    await new Promise((resolve) => setTimeout(resolve, 5));
    socket.destroy();
    assert.equal(await end, 'client_closed in less than the stall time');
  });
});

describe('HEAD /api/export', () => {
  it('is not logged as a sheet exported (app.export, rows) when no row was sent', async () => {
    const app = await startApp({ CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_RATE_LIMIT: '0' }, createFakeSheets({ Players: [['name'], ['a'], ['b']] }));
    try {
      const lines: { event?: unknown; rows?: unknown }[] = [];
      const logger = app.ctx.logger as unknown as { info: (obj: unknown, ...rest: unknown[]) => void };
      const info = logger.info;
      logger.info = (obj: unknown, ...rest: unknown[]) => {
        lines.push(obj as { event?: unknown });
        info.call(logger, obj, ...rest);
      };
      const r = await fetch(`${app.url}/api/export?sheet=Players`, { method: 'HEAD', headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(r.status, 200);
      logger.info = info;
      const exported = lines.filter((l) => l.event === 'app.export');
      assert.deepEqual(exported, [], `a HEAD logged as an export: ${JSON.stringify(exported)}`);
    } finally {
      await app.close();
    }
  });
});
