import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';

const allowed = (url: string): string | undefined => {
  try {
    loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: url } });
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.find((p) => p.name === 'SHEETS_API_URL')?.allowed;
    throw err;
  }
};

test('SHEETS_API_URL copied from the API reference (with /v4) is refused, with the base URL to write', () => {
  assert.equal(allowed('https://sheets.googleapis.com/v4'), "the API's base URL, without /v4 and what follows (corral adds /v4/spreadsheets/… to it): write SHEETS_API_URL=https://sheets.googleapis.com");
  assert.match(allowed('https://sheets.googleapis.com/v4/spreadsheets/') ?? '', /write SHEETS_API_URL=https:\/\/sheets\.googleapis\.com$/);
  assert.match(allowed('http://127.0.0.1:8085/google/v4/') ?? '', /write SHEETS_API_URL=http:\/\/127\.0\.0\.1:8085\/google$/);
});

test("SHEETS_API_URL set to a spreadsheet's address is refused, saying to put its id in SHEET_ID", () => {
  for (const url of ['https://docs.google.com/spreadsheets/d/1AbC-xyz_123/edit#gid=0', 'https://docs.google.com/']) {
    assert.match(allowed(url) ?? '', /not a spreadsheet's address: leave SHEETS_API_URL unset .* put the spreadsheet's id in SHEET_ID$/, url);
  }
});

test('base URLs, with or without a path of their own, are accepted as written', () => {
  for (const url of ['https://sheets.googleapis.com', 'https://sheets.googleapis.com/', 'http://127.0.0.1:8085', 'http://proxy.corp:8080/sheets', 'http://127.0.0.1:8085/v40']) {
    assert.equal(allowed(url), undefined, url);
    assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: url } }).settings.SHEETS_API_URL, url);
  }
});

test('SHEETS_API_URL with a query or a fragment is refused, with the URL corral would use: the client dropped both without a word', () => {
  assert.equal(
    allowed('http://127.0.0.1:8085/?key=abc'),
    "the API's base URL, without a query (?…): corral sends none with its calls (credentials come from the service-account key, or SHEETS_API_KEY): write SHEETS_API_URL=http://127.0.0.1:8085",
  );
  assert.match(allowed('https://sheets.googleapis.com/#top') ?? '', /without a fragment \(#…\): .*write SHEETS_API_URL=https:\/\/sheets\.googleapis\.com$/);
  assert.match(allowed('http://proxy.corp:8080/sheets?x=1#y') ?? '', /without a query .*write SHEETS_API_URL=http:\/\/proxy\.corp:8080\/sheets$/);
});
