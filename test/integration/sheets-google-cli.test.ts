// `corral check` and `corral emulator` as an operator runs them: real processes, settings from
// the environment, verdicts on stdout, exit codes.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { redisMissing, redisTlsMissing, startRedis } from '../helpers/redis-server.js';

const BIN = fileURLToPath(new URL('../../../bin/corral', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function corral(args: string[], env: Record<string, string>, cwd: string, timeoutMs = 30_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`corral ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('corral check', () => {
  let emu: Emulator;
  let dir: string;
  let keyFile: string;
  let email: string;
  const env = (extra: Record<string, string> = {}) => ({
    SHEET_ID: emu.spreadsheetId,
    SHEETS_API_URL: emu.url,
    GOOGLE_APPLICATION_CREDENTIALS: keyFile,
    CORRAL_DATA_DIR: join(dir, 'data'),
    ...extra,
  });
  const keyFor = (name: string, key: unknown) => {
    const file = join(dir, name);
    writeFileSync(file, JSON.stringify(key));
    return file;
  };

  before(async () => {
    emu = await startEmulator();
    dir = mkdtempSync(join(tmpdir(), 'corral-check-'));
    const key = emu.registerServiceAccount({ clientEmail: 'roster@corral-emulator.iam.gserviceaccount.com' });
    email = key.client_email;
    keyFile = keyFor('key.json', key);
  });
  after(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('prints OK with the service account, the sheet and its tabs, exit 0', async () => {
    const r = await corral(['check'], env(), dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout.trim(),
      `OK: service account ${email} can read sheet ${emu.spreadsheetId} (tab Players, 5 columns: name, code, team, role, joined; tab Events, 5 columns: event_id, player, kind, detail, at); appends need the account to be an Editor of the sheet, which check does not try (it never writes)`,
    );
    assert.equal(emu.counters().ok.token >= 1, true);
  });

  it("never opens CORRAL_LOG_FILE: it does not create the service's log file, and one it could not open does not end the check", async () => {
    const logFile = join(dir, 'logs-not-yet', 'corral.log');
    const r = await corral(['check'], env({ CORRAL_LOG_FILE: logFile }), dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(existsSync(logFile), false, 'a check run as root would leave it owned by root');
    const blocked = await corral(['check', '--json'], env({ CORRAL_LOG_FILE: join(dir, 'key.json', 'x.log') }), dir);
    assert.equal(blocked.code, 0, blocked.stderr);
    assert.equal((JSON.parse(blocked.stdout) as { ok: boolean }).ok, true);
  });

  it('says the offline sheet is in use when SHEET_ID is unset', async () => {
    const r = await corral(['check'], { CORRAL_DATA_DIR: join(dir, 'data') }, dir);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^OK: no SHEET_ID is set, so the offline sheet is in use/);
  });

  it('403: not shared with the client_email, exit 1', async () => {
    const stranger = emu.registerServiceAccount({ share: 'none', clientEmail: 'stranger@corral-emulator.iam.gserviceaccount.com' });
    const r = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: keyFor('stranger.json', stranger) }), dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^FAIL \(sheet access\): the sheet is not shared with stranger@corral-emulator\.iam\.gserviceaccount\.com: .*\[CORRAL_ERR_SHEETS_FORBIDDEN\]$/m);
  });

  it('404: check SHEET_ID, exit 1', async () => {
    const r = await corral(['check'], env({ SHEET_ID: 'wrong-id' }), dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL \(sheet access\): spreadsheet wrong-id was not found: check SHEET_ID/);
  });

  it('an .xlsx stored in Drive rather than a Google Sheet: says to save it as a Google Sheet and use the new id, exit 1', async () => {
    emu.setSheet('xlsx-in-drive', 'Players', [['name']]);
    emu.share('xlsx-in-drive', email, 'reader');
    emu.setXlsx('xlsx-in-drive', true);
    const r = await corral(['check'], env({ SHEET_ID: 'xlsx-in-drive' }), dir);
    assert.equal(r.code, 1);
    assert.match(
      r.stdout,
      /^FAIL \(sheet access\): SHEET_ID xlsx-in-drive names a file that is not a Google Sheets document \(an Excel \.xlsx or another Office file stored in Google Drive\): .*Open it in Google Sheets, choose File > Save as Google Sheets, and set SHEET_ID to the new spreadsheet's id \(Google said: This operation is not supported for this document\) \[CORRAL_ERR_SHEETS_NOT_A_SHEET\]$/m,
    );
  });

  it('400: a tab that does not exist, exit 1', async () => {
    const r = await corral(['check'], env({ SHEET_PLAYERS_RANGE: "'Joueurs 2024'!A:E" }), dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL \(sheet access\): Google rejected the range .*Unable to parse range: 'Joueurs 2024'!A1:E1/);
  });

  it('invalid_grant: the key or the clock; an account Google does not know, deleted or disabled; exit 1', async () => {
    const key = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, string>;
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const revoked = keyFor('revoked.json', { ...key, private_key: otherKey });
    const r = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: revoked }), dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, new RegExp(`^FAIL \\(credentials\\): Google refused the service-account key of ${email.replace(/[.]/g, '\\.')} \\(invalid_grant: Invalid JWT Signature\\.\\)`));
    assert.match(r.stdout, /The key was deleted or revoked: create a new JSON key/);
    const deleted = keyFor('deleted.json', { ...key, client_email: 'deleted@corral-emulator.iam.gserviceaccount.com' });
    const gone = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: deleted }), dir);
    assert.equal(gone.code, 1);
    assert.match(gone.stdout, /^FAIL \(credentials\): .*\(invalid_grant: Invalid grant: account not found\)\. The service account deleted@corral-emulator\.iam\.gserviceaccount\.com was deleted or disabled: enable it again/);
  });

  it('no credentials: says which settings to set', async () => {
    const r = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: '' }), dir);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL \(settings\): SHEET_ID="[^"]+" \(from environment\): set with credentials, which are missing: GOOGLE_APPLICATION_CREDENTIALS/);
  });

  it('the settings\' own warnings are in the verdict: a near-miss name is why the offline sheet or no key is in use', async () => {
    const offline = await corral(['check'], { CORRAL_DATA_DIR: join(dir, 'data'), SHEETS_ID: emu.spreadsheetId }, dir);
    assert.equal(offline.code, 0, offline.stderr);
    assert.match(offline.stdout, /^OK: no SHEET_ID is set, so the offline sheet is in use.*\nwarning: unknown setting SHEETS_ID \(set in the environment\): did you mean SHEET_ID\?\n$/s);
    const noKey = await corral(['check', '--json'], env({ GOOGLE_APPLICATION_CREDENTIALS: '', GOOGLE_APPLICATION_CREDENTIAL: keyFile }), dir);
    assert.equal(noKey.code, 1, noKey.stderr);
    const v = JSON.parse(noKey.stdout) as { stage: string; warnings: string[] };
    assert.equal(v.stage, 'settings');
    assert.deepEqual(v.warnings, ['unknown setting GOOGLE_APPLICATION_CREDENTIAL (set in the environment): did you mean GOOGLE_APPLICATION_CREDENTIALS?']);
  });

  it('an env file that cannot be read is a FAIL (settings) verdict like any settings problem, exit 1, in --json too', async () => {
    const missing = join(dir, 'missing.env');
    const r = await corral(['check'], env({ CORRAL_ENV_FILE: missing }), dir);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, new RegExp(`^FAIL \\(settings\\): cannot read env file ${missing}: ENOENT.*; point CORRAL_ENV_FILE at an existing file, or set CORRAL_ENV_FILE=none to read no file \\[CORRAL_ERR_ENV_FILE\\]\n$`));
    const json = await corral(['check', '--json'], env({ CORRAL_ENV_FILE: dir }), dir);
    assert.equal(json.code, 1, json.stderr);
    const v = JSON.parse(json.stdout) as { ok: boolean; backend?: string; stage: string; error: { code: string; message: string } };
    assert.deepEqual([v.ok, v.stage, v.error.code], [false, 'settings', 'CORRAL_ERR_ENV_FILE']);
    assert.equal('backend' in v, false, 'settings never read: which sheet they meant is not known');
    assert.match(v.error.message, /EISDIR.*CORRAL_ENV_FILE must name a file, not a directory/);
  });

  it('a key file that is missing, not JSON or without private_key fails at the credentials stage', async () => {
    const key = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, string>;
    const notJson = join(dir, 'not-json.json');
    writeFileSync(notJson, 'not json');
    const { private_key: _dropped, ...noPrivateKey } = key;
    for (const [file, says] of [
      [join(dir, 'absent.json'), /cannot read the service-account key GOOGLE_APPLICATION_CREDENTIALS=.*absent\.json: ENOENT/],
      [notJson, /GOOGLE_APPLICATION_CREDENTIALS=.*not-json\.json is not valid JSON/],
      [keyFor('no-private-key.json', noPrivateKey), /GOOGLE_APPLICATION_CREDENTIALS=.*no-private-key\.json has no private_key/],
    ] as const) {
      const r = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: file }), dir);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stdout, /^FAIL \(credentials\): .*\[CORRAL_ERR_SHEETS_CREDENTIALS\]\n$/);
      assert.match(r.stdout, says);
    }
  });

  it('a token_uri that is not a token endpoint: one line that points at token_uri', async () => {
    const key = JSON.parse(readFileSync(keyFile, 'utf8')) as Record<string, string>;
    const wrong = keyFor('wrong-token-uri.json', { ...key, token_uri: `${emu.url}/not-the-token-endpoint` });
    const r = await corral(['check'], env({ GOOGLE_APPLICATION_CREDENTIALS: wrong }), dir);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(r.stdout.split('\n').length, 2, `one line: ${r.stdout}`);
    assert.match(r.stdout, /^FAIL \(credentials\): the token endpoint .* answered 404 for roster@corral-emulator\.iam\.gserviceaccount\.com with no OAuth error \(.*\); check token_uri in GOOGLE_APPLICATION_CREDENTIALS=.*wrong-token-uri\.json \(Google's is https:\/\/oauth2\.googleapis\.com\/token\) \[CORRAL_ERR_SHEETS_AUTH\]$/m);
  });

  it('with REDIS_URL: says the quota and cache are shared; a Redis that cannot be reached, refuses scripts or has not the database named, is a FAIL (redis)', { skip: redisMissing }, async () => {
    const redis = await startRedis();
    try {
      const ok = await corral(['check'], env({ REDIS_URL: redis.url }), dir);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^OK: service account .* its quota, cache and failed-login counts are shared through Redis \d+\.\d+\.\d+ at unix:\/\/\//);
      assert.equal(redis.cli('DBSIZE').trim(), '0', 'nothing left behind');

      // A database the server does not have: ioredis goes on in database 0 after the refused
      // SELECT; check says so rather than OK.
      const noDb = await corral(['check'], env({ REDIS_URL: `${redis.url}?db=16` }), dir);
      assert.equal(noDb.code, 1, noDb.stdout + noDb.stderr);
      assert.match(noDb.stdout, /^FAIL \(redis\): Redis at unix:\/\/\/.*db=16 \(REDIS_URL\): SELECT 16 \(the database in REDIS_URL\) failed: ERR DB index is out of range: database 16 of REDIS_URL is not one this server has .* \[CORRAL_ERR_REDIS_REFUSED\]/);
      assert.equal(redis.cli('DBSIZE').trim(), '0', 'nothing written to database 0');

      redis.cli('ACL', 'SETUSER', 'noscripts', 'on', '>pw', '~*', '+@all', '-eval', '-evalsha');
      const refused = await corral(['check', '--json'], env({ REDIS_URL: `${redis.url}?user=noscripts&password=pw` }), dir);
      assert.equal(refused.code, 1);
      const verdict = JSON.parse(refused.stdout) as { stage: string; error: { code: string; message: string } };
      assert.equal(verdict.stage, 'redis');
      assert.equal(verdict.error.code, 'CORRAL_ERR_REDIS_REFUSED');
      assert.match(verdict.error.message, /EVAL \(the quota is kept by a script\) failed: NOPERM .*: .*grant them \(ACL SETUSER <user> \+eval \+evalsha \+script\) or use a user that may/);
      assert.ok(!refused.stdout.includes('password=pw'), 'the password is not shown');
      // EVAL allowed but not EVALSHA, which the keeper runs its scripts with: refused too.
      redis.cli('ACL', 'SETUSER', 'nosha', 'on', '>pw', '~*', '+@all', '-evalsha');
      const noSha = await corral(['check'], env({ REDIS_URL: `${redis.url}?user=nosha&password=pw` }), dir);
      assert.equal(noSha.code, 1, noSha.stdout);
      assert.match(noSha.stdout, /^FAIL \(redis\): .*EVALSHA .* failed: NOPERM .*\+eval \+evalsha \+script.*\[CORRAL_ERR_REDIS_REFUSED\]/);

      await redis.kill();
      const down = await corral(['check'], env({ REDIS_URL: redis.url }), dir);
      assert.equal(down.code, 1);
      assert.match(down.stdout, /^FAIL \(redis\): Redis at unix:\/\/\/.* \(REDIS_URL\): connect failed: .*; until it works each host reads Google, spends the quota on its own share and counts failed logins alone \[CORRAL_ERR_REDIS\]/);
    } finally {
      await redis.stop();
    }
  });

  it('with a rediss:// REDIS_URL: OK with REDIS_TLS_CA_FILE; without it, a FAIL (redis) that says to set it', { skip: redisTlsMissing }, async () => {
    const redis = await startRedis({ tls: true });
    try {
      const url = `rediss://127.0.0.1:${redis.tls?.port ?? 0}`;
      const ok = await corral(['check'], env({ REDIS_URL: url, REDIS_TLS_CA_FILE: redis.tls?.caFile ?? '' }), dir);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.match(ok.stdout, /^OK: service account .* its quota, cache and failed-login counts are shared through Redis \d+\.\d+\.\d+ at rediss:\/\/127\.0\.0\.1:\d+/);
      assert.equal(ok.stderr.includes('DeprecationWarning'), false, ok.stderr);
      const untrusted = await corral(['check'], env({ REDIS_URL: url }), dir);
      assert.equal(untrusted.code, 1);
      assert.match(untrusted.stdout, /^FAIL \(redis\): Redis at rediss:\/\/127\.0\.0\.1:\d+ \(REDIS_URL\): connect failed: .*: the server's certificate is not signed by a CA this host trusts: set REDIS_TLS_CA_FILE/);
    } finally {
      await redis.stop();
    }
  });

  it('--json gives a machine-readable verdict', async () => {
    const r = await corral(['check', '--json'], env(), dir);
    assert.equal(r.code, 0);
    const v = JSON.parse(r.stdout) as { ok: boolean; backend: string; tabs: { tab: string; header: string[] }[] };
    assert.equal(v.ok, true);
    assert.equal(v.backend, 'google');
    assert.deepEqual(v.tabs.map((t) => [t.tab, t.header.length]), [['Players', 5], ['Events', 5]]);
  });
});

describe('corral emulator', () => {
  it('serves a seed sheet, writes a usable key, answers control endpoints, stops on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-emu-'));
    const seed = join(dir, 'seed.json');
    writeFileSync(seed, JSON.stringify({ spreadsheetId: 'bench-sheet', sheets: { Players: [['name', 'code'], ['Zoé', 'Z1']], Events: [['event_id']] } }));
    const keyOut = join(dir, 'key.json');
    const child = spawn(process.execPath, [BIN, 'emulator', '--port', '0', '--sheet-file', seed, '--key-out', keyOut, '--latency-ms', '5'], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', r));
    try {
      // Its listening lines, once node has started the CLI: bounded by time (200 turns, about 5 s,
      // is short for a node start on a loaded box), and no longer once it has exited.
      for (const end = Date.now() + 30_000; Date.now() < end && !/control:/.test(out) && child.exitCode === null; ) await new Promise((r) => setTimeout(r, 25));
      const url = /listening on (http:\/\/[\d.]+:\d+)/.exec(out)?.[1];
      assert.ok(url, `no listening line in:\n${out}`);
      assert.match(out, /use: SHEET_ID=bench-sheet SHEETS_API_URL=http:\/\/127\.0\.0\.1:\d+ GOOGLE_APPLICATION_CREDENTIALS=.*key\.json/);
      const key = JSON.parse(readFileSync(keyOut, 'utf8')) as { token_uri: string; type: string };
      assert.equal(key.type, 'service_account');
      assert.equal(key.token_uri, `${url}/token`);

      const r = await corral(['check'], { SHEET_ID: 'bench-sheet', SHEETS_API_URL: url, GOOGLE_APPLICATION_CREDENTIALS: keyOut, CORRAL_DATA_DIR: join(dir, 'data') }, dir);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /^OK: .* can read sheet bench-sheet \(tab Players, 2 columns: name, code; tab Events, 1 column: event_id\)/);

      const counters = (await (await fetch(`${url}/__emulator/counters`)).json()) as { calls: Record<string, number> };
      assert.equal(counters.calls['values.batchGet'], 1);
      const faults = (await (await fetch(`${url}/__emulator/faults`, { method: 'POST', body: '{"errorRate":1}' })).json()) as { errorRate: number; latencyMs: number };
      assert.deepEqual([faults.errorRate, faults.latencyMs], [1, 5]);
      const failing = await corral(['check'], { SHEET_ID: 'bench-sheet', SHEETS_API_URL: url, GOOGLE_APPLICATION_CREDENTIALS: keyOut, CORRAL_DATA_DIR: join(dir, 'data') }, dir);
      assert.equal(failing.code, 1);
      assert.match(failing.stdout, /FAIL \(sheet access\): Google answered 503 UNAVAILABLE .*gave up after 2 attempts/);
    } finally {
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(out, /SIGTERM, stopping/);
  });

  it('refuses bad flags with a usage error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-emu-'));
    try {
      const r = await corral(['emulator', '--error-rate', '3'], {}, dir);
      assert.equal(r.code, 64);
      assert.match(r.stderr, /--error-rate must be a number from 0 to 1/);
      // --share and --client-email describe the --key-out key: alone they would change nothing.
      for (const flags of [['--share', 'reader'], ['--client-email', 'x@y.iam.gserviceaccount.com']]) {
        const alone = await corral(['emulator', '--port', '0', ...flags], {}, dir, 10_000);
        assert.equal(alone.code, 64, `${flags.join(' ')}: ${alone.stdout}${alone.stderr}`);
        assert.match(alone.stderr, new RegExp(`${flags[0]} applies to the key written by --key-out FILE; add --key-out`));
        assert.equal(alone.stdout, '', 'nothing was started');
      }
      const help = await corral(['emulator', '--help'], {}, dir);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /POST \/__emulator\/faults/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
