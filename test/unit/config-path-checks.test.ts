// The files settings name, judged when the settings load: a data dir that cannot be one, a
// service-account key the keeper could not use. Local checks only; nothing is created.

import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dataDirProblem, serviceAccountKeyProblem } from '../../src/config/path-checks.js';
import { generateServiceAccountKey } from '../../src/sheets/emulator/keys.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'corral-path-checks-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('dataDirProblem', () => {
  it('a directory, or a path not there yet (the keeper creates it), is fine, and nothing is created', () => {
    mkdirSync(join(dir, 'data'));
    assert.equal(dataDirProblem(join(dir, 'data')), undefined);
    assert.equal(dataDirProblem(join(dir, 'not', 'yet')), undefined);
    assert.equal(existsSync(join(dir, 'not')), false);
  });

  it('a file (or a device) is not a directory: said with the path and the fix', () => {
    writeFileSync(join(dir, 'passwd'), 'root:x:0:0\n');
    assert.equal(dataDirProblem(join(dir, 'passwd')), `${join(dir, 'passwd')} is a file, not a directory: point CORRAL_DATA_DIR at a directory (corral creates a missing one, mode 0700), e.g. /var/lib/corral, or move the file away`);
    assert.match(dataDirProblem('/dev/null') ?? '', /^\/dev\/null is a device, not a directory: point CORRAL_DATA_DIR at a directory/);
  });

  it('a data dir on /proc or /sys, where nothing can be created, is refused for root too, and only when writability is judged', () => {
    // Root passes access(W_OK) there: CORRAL_DATA_DIR=/sys/corral passed `corral config` and start
    // as root, and the keeper then failed at every boot with EPERM (the audit).
    for (const path of ['/sys/corral', '/proc/corral/deeper', '/sys/kernel']) {
      assert.match(dataDirProblem(path, { writable: true }) ?? '', /^\/(sys|proc)\S* is on (sysfs|procfs) \(\/(sys|proc)\), a kernel filesystem where no file can be created, whoever runs corral: point CORRAL_DATA_DIR at a directory on a disk/, path);
    }
    assert.equal(dataDirProblem('/sys/corral'), undefined, 'a shape-only judgement does not look at the filesystem');
    mkdirSync(join(dir, 'disk'), { recursive: true });
    assert.equal(dataDirProblem(join(dir, 'disk'), { writable: true }), undefined, 'a directory on a disk is fine');
    assert.equal(dataDirProblem(join(dir, 'disk', 'new'), { writable: true }), undefined);
  });

  it('a path under a file can never be created: the file is named', () => {
    writeFileSync(join(dir, 'file'), '');
    assert.equal(dataDirProblem(join(dir, 'file', 'data', 'deeper')), `${join(dir, 'file')} is a file, so ${join(dir, 'file', 'data', 'deeper')} cannot be created under it: point CORRAL_DATA_DIR at a directory (corral creates a missing one, mode 0700), e.g. /var/lib/corral`);
  });
});

describe('serviceAccountKeyProblem', () => {
  const { key } = generateServiceAccountKey({ clientEmail: 'corral@test.iam.gserviceaccount.com', tokenUri: 'http://127.0.0.1:1/token', modulusLength: 1024 });
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const fromFile = (path: string | undefined) => serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: path, GOOGLE_SERVICE_ACCOUNT_JSON: undefined }, path);

  it('every documented form is accepted: a key file, the JSON inline, with its newlines escaped once too many', () => {
    assert.equal(fromFile(file('key.json', JSON.stringify(key))), undefined);
    assert.equal(serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key) }, undefined), undefined);
    const escaped = JSON.stringify(key).replace(/\\n/g, '\\\\n');
    assert.equal(serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: escaped }, undefined), undefined);
    // Inline wins over the file, as in the keeper: a stale path beside it is not read.
    assert.equal(serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent.json', GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key) }, '/nonexistent.json'), undefined);
    // API key only: no service-account key to read (SHEET_ID without any credential is sheet-credentials.ts's).
    assert.equal(serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: undefined }, undefined), undefined);
  });

  it('without SHEET_ID the key is not used, so not read', () => {
    assert.equal(serviceAccountKeyProblem({ SHEET_ID: undefined, GOOGLE_APPLICATION_CREDENTIALS: '/nonexistent.json', GOOGLE_SERVICE_ACCOUNT_JSON: undefined }, '/nonexistent.json'), undefined);
  });

  it('a key file that is missing, a directory, not JSON or not a service-account key: named, with the fix', () => {
    const cases: [string, RegExp][] = [
      ['/nonexistent.json', /^cannot read the service-account key GOOGLE_APPLICATION_CREDENTIALS=\/nonexistent\.json: ENOENT.*; give the path of a service account's JSON key file \(Cloud console: .*\), or put the JSON itself in GOOGLE_SERVICE_ACCOUNT_JSON$/],
      [dir, /: EISDIR.*; GOOGLE_APPLICATION_CREDENTIALS names a directory: name the JSON key file itself$/],
      [file('not-json.json', 'not json'), /not-json\.json is not valid JSON: .*; GOOGLE_APPLICATION_CREDENTIALS must name a service account's JSON key file \(Cloud console: IAM & Admin > Service accounts > Keys > Add key > JSON\)$/],
      [file('user.json', JSON.stringify({ type: 'authorized_user', client_id: 'x', refresh_token: 'y' })), /user\.json is a "authorized_user" credential; corral needs a service-account key .*; GOOGLE_APPLICATION_CREDENTIALS must name a service account's JSON key file/],
      [file('no-private-key.json', JSON.stringify({ ...key, private_key: undefined })), /no-private-key\.json has no private_key; GOOGLE_APPLICATION_CREDENTIALS must name/],
    ];
    for (const [path, says] of cases) {
      const got = fromFile(path);
      assert.equal(got?.setting, 'GOOGLE_APPLICATION_CREDENTIALS', path);
      assert.match(got.why, says);
    }
  });

  it('a key file corral\'s user may not read is named with the permission fix', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, () => {
    const path = file('private.json', JSON.stringify(key));
    chmodSync(path, 0o000);
    assert.match(fromFile(path)?.why ?? '', /: EACCES.*; make it readable by the user corral runs as/);
  });

  it('an invalid GOOGLE_SERVICE_ACCOUNT_JSON is named as that setting, without quoting the key', () => {
    const got = serviceAccountKeyProblem({ SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: undefined, GOOGLE_SERVICE_ACCOUNT_JSON: `{"private_key": ${key.private_key.slice(40, 80)}` }, undefined);
    assert.equal(got?.setting, 'GOOGLE_SERVICE_ACCOUNT_JSON');
    assert.match(got.why, /^GOOGLE_SERVICE_ACCOUNT_JSON is not valid JSON: .*; GOOGLE_SERVICE_ACCOUNT_JSON must hold a service account's JSON key/);
    assert.ok(!got.why.includes(key.private_key.slice(40, 80)), got.why);
  });
});
