import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dotenv from 'dotenv';
import { lintEnvText } from '../../src/config/env-lint.js';
import { loadSettings } from '../../src/config/load.js';
import { withDir } from '../fixtures/settings-dir.js';

/** Texts whose value boundaries are easy to get wrong; the lint must find the names dotenv does. */
const TRICKY = [
  'A=1\nB="two\nlines"\nC=3\n',
  'SHEET_PLAYERS_RANGE="Players\nCORRAL_WORKERS 8\nCORRAL_TIMEOUT=abc\n',
  'SHEET_PLAYERS_RANGE="Players \\"main\\"\nstill value"\nCORRAL_TIMEOUT=5\n',
  "export A='x'\nB: y\n  C = z # note\nD=#x\nE=abc#def\n",
  'A=`multi\n# not a comment\n`\nB=1\r\nC=2\rD=3\n',
  '\uFEFFA=1\n\n\nB=\n#c\nC="unclosed\n',
];

test('the lint finds the names, and the lines, that dotenv parses: the same LINE pattern', () => {
  for (const text of TRICKY) {
    const lint = lintEnvText(text);
    assert.deepEqual([...lint.lineOf.keys()].sort(), Object.keys(dotenv.parse(text)).sort(), JSON.stringify(text));
  }
});

test('an unclosed quote is a literal value on its one line: the next line that is not NAME=value is named, and the line of the next setting is known', () => {
  const lint = lintEnvText('SHEET_PLAYERS_RANGE="Players\nCORRAL_WORKERS 8\nCORRAL_TIMEOUT=abc\n');
  assert.deepEqual(lint.ignored, [{ line: 2, begins: 'CORRAL_WORKERS' }]);
  assert.equal(lint.lineOf.get('CORRAL_TIMEOUT'), 3);
  assert.equal(dotenv.parse('SHEET_PLAYERS_RANGE="Players\n').SHEET_PLAYERS_RANGE, '"Players');
});

test('an escaped quote inside a quoted value spanning lines does not end it: its next line is part of the value, not ignored', () => {
  const text = 'SHEET_PLAYERS_RANGE="Players \\"main\\"\nstill value"\nCORRAL_TIMEOUT=5\n';
  const lint = lintEnvText(text);
  assert.deepEqual(lint.ignored, []);
  assert.deepEqual([lint.lineOf.get('SHEET_PLAYERS_RANGE'), lint.lineOf.get('CORRAL_TIMEOUT')], [1, 3]);
  assert.match(dotenv.parse(text).SHEET_PLAYERS_RANGE ?? '', /\nstill value$/);
});

test('an unquoted value cut at a # written right after it is named; one with a space before the # (a comment) or quoted is not', () => {
  const text = ['CORRAL_ADMIN_TOKEN=abcdefghijklmnopqr#stuvwx', 'SHEET_PLAYERS_RANGE=Players#1', 'CORRAL_WORKERS=4 # four', 'SHEET_ID="abc#def"', "B='x#y'", 'C=#starts', 'D= # empty, said so', 'E=plain'].join('\n');
  assert.deepEqual(dotenv.parse(text), { CORRAL_ADMIN_TOKEN: 'abcdefghijklmnopqr', SHEET_PLAYERS_RANGE: 'Players', CORRAL_WORKERS: '4', SHEET_ID: 'abc#def', B: 'x#y', C: '', D: '', E: 'plain' });
  assert.deepEqual(lintEnvText(text).cutAtHash, [
    { line: 1, name: 'CORRAL_ADMIN_TOKEN' },
    { line: 2, name: 'SHEET_PLAYERS_RANGE' },
    { line: 6, name: 'C' },
  ]);
});

test('duplicates are named with their lines, a multi-line value counted once', () => {
  const lint = lintEnvText('A=1\nB="x\nA=2"\nA=3\n');
  assert.deepEqual(lint.duplicates, [{ name: 'A', lines: [1, 4] }]);
});

test('a value beginning with a quote that dotenv never closes is named with its line, its name and the quote; one closed on a later line, or followed by more text, is not', () => {
  const text = [
    'A="/tmp/x/run/x.pid', // 1
    "B='single", // 2
    'C=`back', // 3
    'D="multi', // 4
    'line"', // 5
    "E='My Sheet'!A1:C", // 6
    'F="x#y', // 7: dotenv reads `"x`, the rest a comment
    'G= "z # note', // 8: dotenv would read it to the next line ending in ", had one followed
    'I="closed" # note', // 9
    'J=plain"quote', // 10
    'K="a', // 11
    'b" more', // 12: not the end of K's value (text follows), so an ignored line
    'H="', // 13
  ].join('\n');
  const lint = lintEnvText(text);
  assert.deepEqual(lint.unclosedQuotes, [
    { line: 1, name: 'A', quote: '"' },
    { line: 2, name: 'B', quote: "'" },
    { line: 3, name: 'C', quote: '`' },
    { line: 7, name: 'F', quote: '"' },
    { line: 8, name: 'G', quote: '"' },
    { line: 11, name: 'K', quote: '"' },
    { line: 13, name: 'H', quote: '"' },
  ]);
  assert.deepEqual(lint.cutAtHash, [], 'F is said to be an unclosed quote alone: quoting it, the fix of a cut value, is what went wrong');
  // What dotenv does with them: each keeps its quote as the value's first character; the others do not.
  const parsed = dotenv.parse(text);
  for (const { name, quote } of lint.unclosedQuotes) assert.equal(parsed[name]?.[0], quote, name);
  assert.deepEqual([parsed.D, parsed.E, parsed.I, parsed.J], ['multi\nline', "'My Sheet'!A1:C", 'closed', 'plain"quote']);
  // The rest of K's value, not a name: nothing of it is shown.
  assert.deepEqual(lint.ignored, [{ line: 12, begins: undefined }]);
});

test("an ignored line that begins with no setting's name shows nothing of it: a key or a token on lines of its own (a value broken across lines without quotes) is not echoed", () => {
  // A service-account key pasted unquoted, its private_key's PEM with real line breaks: each line
  // of the key's body was said with its first 64 characters up to a + or /, some thirty fragments
  // of the private key on stderr and in the journal at every start and reload; and a hex token
  // pasted on the line after its name whole.
  const token = '3f9a0c1d2e4b5a6978c0d1e2f3a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6';
  const text = [
    'SHEET_ID=sheet-1', // 1
    'GOOGLE_SERVICE_ACCOUNT_JSON={"type":"service_account","private_key":"-----BEGIN PRIVATE KEY-----', // 2
    'MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCqRnZ8F1/YVnR7', // 3
    'D+DsvyqNmS8tG8edcxtESAy3QLnkYIVSyo+2i/M9aQIhDquNSI3jYQaztUy/9mqj', // 4
    'QLNKYIVSYO2IM9AQIHDQUNSI3JYQAZTUY9MQJ', // 5: upper case, but no setting's name
    '-----END PRIVATE KEY-----"}', // 6
    'CORRAL_ADMIN_TOKEN=', // 7
    token, // 8
    'CORRAL_WORKERS 8', // 9: a setting's name: said
    'CORRAL WORKERS=8', // 10: its first word is a setting's: said
    'MY_APP_FLAG on', // 11: a name in the shape of a variable's: said
  ].join('\n');
  const lint = lintEnvText(text);
  assert.deepEqual(
    lint.ignored.map((l) => [l.line, l.begins]),
    [
      [3, undefined],
      [4, undefined],
      [5, undefined],
      [6, undefined],
      [8, undefined],
      [9, 'CORRAL_WORKERS'],
      [10, 'CORRAL'],
      [11, 'MY_APP_FLAG'],
    ],
  );
});

test('a quoted value spanning lines that holds lines reading as settings names them (dotenv takes them into the value); one holding none, a PEM key say, is not named', () => {
  const text = [
    'CORRAL_ADMIN_TOKEN="abcdefghijklmnopqrstu', // 1: the closing quote forgotten
    'CORRAL_WORKERS=3', // 2
    '# a comment', // 3
    'export CORRAL_KEEPALIVE=7', // 4
    'X_NOTE=x"', // 5: a quote at a line's end closes it
    'KEY="-----BEGIN KEY-----', // 6
    'MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu', // 7
    'lower=case is no setting', // 8
    '-----END KEY-----"', // 9
  ].join('\n');
  const lint = lintEnvText(text);
  assert.deepEqual(lint.swallowed, [{ line: 1, name: 'CORRAL_ADMIN_TOKEN', lines: [{ line: 2, name: 'CORRAL_WORKERS' }, { line: 4, name: 'CORRAL_KEEPALIVE' }, { line: 5, name: 'X_NOTE' }], closedAt: 5 }]);
  const parsed = dotenv.parse(text);
  assert.equal(parsed.CORRAL_WORKERS, undefined, 'dotenv took it into the value');
  assert.match(parsed.CORRAL_ADMIN_TOKEN ?? '', /\nCORRAL_WORKERS=3\n/);
});

test('the warnings about lines of the file are said in the order of the lines, whatever their kind; the others keep their places', () => {
  // Each kind was said in turn: line 4's cut value came before line 3's unknown name.
  withDir((dir) => {
    writeFileSync(
      join(dir, '.env'),
      ['CORRAL_WORKERS=2', 'this line is junk', 'CORAL_TIMEOUT=30', 'SHEET_PLAYERS_RANGE=Players!A1#B', 'CORRAL_GRACEFUL_TIMEOUT=5', 'CORRAL_GRACEFUL_TIMEOUT=6', 'CORRAL_MAX_REQUESTS_JITTER=5'].join('\n'),
      { mode: 0o600 },
    );
    const { warnings } = loadSettings({ cwd: dir, env: {} });
    const lined = warnings.map((w) => /line (\d+)|\(lines (\d+)/.exec(w)).map((m) => (m ? Number(m[1] ?? m[2]) : undefined));
    assert.deepEqual(lined.filter((l) => l !== undefined), [2, 3, 4, 5], warnings.join('\n'));
    assert.ok(warnings.some((w) => w.startsWith('CORRAL_MAX_REQUESTS_JITTER has no effect')), 'a warning of no line is said too');
  });
});
