import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exampleNames, renderEnvExample } from '../../src/config/env-example.js';
import { loadSettings } from '../../src/config/load.js';
import { displayValue } from '../../src/config/shown-value.js';
import { IGNORED_WITH_NOTE, schema, settingNames } from '../../src/config/schema.js';
import { defaultWorkers } from '../../src/config/schema-daemon.js';
import type { SettingSpec } from '../../src/config/spec.js';
import { ConfigError, type CorralError } from '../../src/errors.js';
import { generateServiceAccountKey } from '../../src/sheets/emulator/keys.js';
import { REPO_ROOT } from '../helpers/corral.js';
import { refusal, withDir } from '../fixtures/settings-dir.js';

test('defaults apply when nothing is set, and the result is frozen', () => {
  const { settings, sources } = loadSettings({ env: { CORRAL_ENV_FILE: 'none' } });
  assert.deepEqual(settings.CORRAL_BIND, { host: '0.0.0.0', port: 8080 });
  assert.equal(settings.CORRAL_WORKER_CONNECTIONS, 1000);
  assert.equal(settings.CORRAL_TIMEOUT, 30);
  assert.equal(settings.CORRAL_ACCESS_LOG, true);
  assert.ok(settings.CORRAL_WORKERS >= 4 && settings.CORRAL_WORKERS % 4 === 0, 'CPU count x 4');
  assert.equal(sources.CORRAL_TIMEOUT, 'default');
  assert.ok(Object.isFrozen(settings));
});

test('.env is read, and real environment variables win over it', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_TIMEOUT=45\nCORRAL_KEEPALIVE=9\n');
    const { settings, sources, envFile } = loadSettings({ env: { CORRAL_KEEPALIVE: '3' }, cwd: dir });
    assert.equal(envFile, join(dir, '.env'));
    assert.equal(settings.CORRAL_TIMEOUT, 45);
    assert.equal(sources.CORRAL_TIMEOUT, '.env');
    assert.equal(settings.CORRAL_KEEPALIVE, 3);
    assert.equal(sources.CORRAL_KEEPALIVE, 'environment');
  });
});

test('a setting the file and the environment both set, to different values, is listed as overridden (secrets redacted); the same value is not', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_KEEPALIVE=9\nCORRAL_TIMEOUT=45\nCORRAL_ADMIN_TOKEN=file-token-0123456789\nCORRAL_WORKERS=3\n');
    const { envOverrides } = loadSettings({ env: { CORRAL_KEEPALIVE: '3', CORRAL_TIMEOUT: '45', CORRAL_ADMIN_TOKEN: 'env-token-0123456789' }, cwd: dir });
    assert.deepEqual(
      [...envOverrides].sort((a, b) => a.setting.localeCompare(b.setting)),
      [
        { setting: 'CORRAL_ADMIN_TOKEN', file: '<redacted>', environment: '<redacted>' },
        { setting: 'CORRAL_KEEPALIVE', file: '9', environment: '3' },
      ],
    );
  });
});

test('an alias the file and the environment both set, to different values, is listed as overridden too, naming its setting', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'GUNICORN_TIMEOUT=30\nGUNICORN_WORKERS=4\n');
    const { envOverrides, settings } = loadSettings({ env: { GUNICORN_TIMEOUT: '60', GUNICORN_WORKERS: '4' }, cwd: dir });
    assert.equal(settings.CORRAL_TIMEOUT, 60);
    assert.deepEqual(envOverrides, [{ setting: 'GUNICORN_TIMEOUT', aliasOf: 'CORRAL_TIMEOUT', file: '30', environment: '60' }]);
  });
});

test('a proxy\'s lower-case name the file and the environment both set, to different values, is listed as overridden (its password masked)', () => {
  // The unit's EnvironmentFile=/etc/corral/node.env is where its comment puts the proxies: the same
  // https_proxy in the settings file was edited to no effect, and neither corral config nor
  // config.env_overrides said so (HTTPS_PROXY's own name in both was said).
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'https_proxy=http://user:secret@proxy-a:3128\n');
    const { envOverrides, settings } = loadSettings({ env: { https_proxy: 'http://proxy-b:3128' }, cwd: dir });
    assert.equal(settings.HTTPS_PROXY, 'http://proxy-b:3128');
    assert.equal(envOverrides.length, 1);
    assert.equal(envOverrides[0]?.setting, 'https_proxy');
    assert.equal(envOverrides[0]?.aliasOf, 'HTTPS_PROXY');
    assert.equal(envOverrides[0]?.environment, 'http://proxy-b:3128');
    assert.doesNotMatch(envOverrides[0]?.file ?? '', /secret/);
  });
});

test('settings swallowed by a value quoted across lines are said in a note of the refusal, by name and line, never by value', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_ADMIN_TOKEN="abcdefghijklmnopqrstu\nCORRAL_WORKERS=3\nX_NOTE=secret-value"\n');
    assert.throws(
      () => loadSettings({ env: {}, cwd: dir }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.warnings.some((w) => w === `line 1 of ${join(dir, '.env')}: the value of CORRAL_ADMIN_TOKEN is quoted across lines 1 to 3, and holds lines that read as settings (CORRAL_WORKERS on line 2, X_NOTE on line 3): dotenv takes them as part of that value, not as settings. If they are settings, close the quote on line 1`) &&
        !err.message.includes('secret-value') &&
        !err.message.includes('abcdefghijklmnopqrstu'),
    );
  });
});

test('CORRAL_ENV_FILE names the file; a named file that is missing is an error', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'prod.env'), 'CORRAL_WORKERS=6\n');
    assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'prod.env' }, cwd: dir }).settings.CORRAL_WORKERS, 6);
    assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'nope.env' }, cwd: dir }), { code: 'CORRAL_ERR_ENV_FILE' });
  });
});

test('the env file read at start, gone at a reload, is refused naming it; a missing default .env is no file otherwise', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    assert.equal(loadSettings({ env: {}, cwd: dir, envFileAtStart: undefined }).envFile, undefined);
    assert.throws(
      () => loadSettings({ env: {}, cwd: dir, envFileAtStart: file }),
      (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && err.message === `the env file ${file}, read at start, is gone; restore it, or create an empty file there (touch ${file}) to reload with the defaults`,
    );
    writeFileSync(file, '');
    assert.equal(loadSettings({ env: {}, cwd: dir, envFileAtStart: file }).envFile, file);
  });
});

test('a .env symlink whose target is missing is refused naming the link and its target, not read as no file', () => {
  withDir((dir) => {
    symlinkSync('/missing/corral.env', join(dir, '.env'));
    assert.throws(
      () => loadSettings({ env: {}, cwd: dir }),
      (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && err.message.includes(`${join(dir, '.env')}: it is a symbolic link to /missing/corral.env, which does not exist`),
    );
  });
});

test('a CORRAL_ENV_FILE not found that begins with ~ or names a variable says that nothing expanded it', () => {
  withDir((dir) => {
    // A unit's Environment= and a compose file expand neither: "point CORRAL_ENV_FILE at an
    // existing file" alone left the operator looking at a file that exists.
    for (const [named, said] of [
      ['~/corral.env', /cannot read env file \S+\/~\/corral\.env: ENOENT.*; nothing expanded the ~ of CORRAL_ENV_FILE=~\/corral\.env \(a unit's Environment= or a compose file does not\): write the absolute path: \/home\/ops\/corral\.env$/],
      ['$HOME/corral.env', /; nothing expanded the \$HOME of CORRAL_ENV_FILE=\$HOME\/corral\.env \(a unit's Environment= or a compose file does not\): write the absolute path: \/home\/ops\/corral\.env$/],
    ] as const) {
      assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: named, HOME: '/home/ops' }, cwd: dir }), (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && said.test(err.message), named);
    }
    assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'missing.env' }, cwd: dir }), (err: CorralError) => /point CORRAL_ENV_FILE at an existing file, or set CORRAL_ENV_FILE=none to read no file$/.test(err.message));
  });
});

test('a settings file that is a device is refused without reading it (/dev/zero read on for ever), but /dev/null reads as empty', () => {
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: '/dev/zero' } }),
    (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && /cannot read env file \/dev\/zero: it is a character device, not a file of settings; point CORRAL_ENV_FILE at a regular file, or set CORRAL_ENV_FILE=none to read no file$/.test(err.message),
  );
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: '/dev/null' } }).envFile, '/dev/null');
});

test('a UTF-16 env file (or one with NUL bytes) is refused: save it as UTF-8', () => {
  withDir((dir) => {
    const text = 'CORRAL_WORKERS=3\n';
    for (const bytes of [Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]), Buffer.from(text, 'utf16le')]) {
      writeFileSync(join(dir, '.env'), bytes);
      assert.throws(() => loadSettings({ env: {}, cwd: dir }), (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && /save it as UTF-8/.test(err.message));
    }
    // A UTF-8 BOM is UTF-8.
    writeFileSync(join(dir, '.env'), `\uFEFF${text}`);
    assert.equal(loadSettings({ env: {}, cwd: dir }).settings.CORRAL_WORKERS, 3);
  });
});

test('a value that is not UTF-8 (a file saved as Latin-1 or Windows-1252) is refused for a setting and warned of for another name; elsewhere in the file it is no matter', () => {
  withDir((dir) => {
    // As Notepad saved it ("ANSI"): the ö of the tab's name is the one byte 0xF6, which UTF-8
    // reads as U+FFFD; the keeper then asked Google for a tab "J\uFFFDueurs", and every login failed.
    const latin1 = (text: string) => Buffer.from(text, 'latin1');
    writeFileSync(join(dir, '.env'), latin1('# réglages de production\nCORRAL_WORKERS=3\nSHEET_PLAYERS_RANGE=Jöueurs\nAPP_TITLE=Café\n'));
    const err = refusal(() => loadSettings({ env: {}, cwd: dir }));
    assert.deepEqual(err.problems.map((p) => p.name), ['SHEET_PLAYERS_RANGE']);
    assert.match(err.message, /SHEET_PLAYERS_RANGE="J\uFFFDueurs" \(from \S+\.env line 3\): UTF-8 text, and this value holds bytes that are not UTF-8 \(the file saved as Latin-1 or Windows-1252\?\): save the file as UTF-8 \(e\.g\. iconv -f WINDOWS-1252 -t UTF-8 \S+\.env > \S+\.env\.utf8, then move that into place\)/);
    assert.ok(err.warnings.some((w) => /^line 4 of \S+\.env: the value of APP_TITLE holds bytes that are not UTF-8 \(the file saved as Latin-1 or Windows-1252\?\), which reach the app as U\+FFFD: save the file as UTF-8$/.test(w)), err.warnings.join('\n'));
    // In a comment alone, or once saved as UTF-8, it is read.
    writeFileSync(join(dir, '.env'), latin1('# réglages de production\nCORRAL_WORKERS=3\n'));
    assert.equal(loadSettings({ env: {}, cwd: dir }).settings.CORRAL_WORKERS, 3);
    writeFileSync(join(dir, '.env'), 'SHEET_PLAYERS_RANGE=Jöueurs\n');
    assert.equal(loadSettings({ env: {}, cwd: dir }).settings.SHEET_PLAYERS_RANGE, 'Jöueurs');
  });
});

test('a settings file that is a pipe (a shell\'s <(...), a FIFO) is refused, not read: once read it is empty, and a reload took every default', () => {
  withDir((dir) => {
    // A named FIFO with no writer: reading it waited forever (`corral status` hung).
    const fifo = join(dir, 'corral.env');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    // A writer that comes after 2 s, so that a read that waits for one ends (the file then reads empty).
    const writer = spawn('/bin/sh', ['-c', `sleep 2; : > "${fifo}"`], { stdio: 'ignore' });
    try {
      assert.throws(
        () => loadSettings({ env: { CORRAL_ENV_FILE: fifo }, cwd: dir }),
        (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && err.message.includes(`${fifo}: it is a pipe`) && /point CORRAL_ENV_FILE at a regular file/.test(err.message),
      );
    } finally {
      writer.kill('SIGKILL');
    }
  });
  // `CORRAL_ENV_FILE=<(sops -d corral.env) corral start`: /dev/fd/N, a pipe already written. The
  // master read it at start; its reload read it again, empty, and went back to every default.
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
    const { loadSettings } = await import(${JSON.stringify(new URL('../../src/config/load.js', import.meta.url).href)});
    try { loadSettings({ env: { CORRAL_ENV_FILE: '/dev/fd/3' } }); console.log('read'); } catch (err) { console.log(err.code, err.message); }
  `], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'], input: undefined, timeout: 10_000 });
  assert.match(child.stdout.toString(), /^CORRAL_ERR_ENV_FILE .*\/dev\/fd\/3: it is a pipe/);
});

test('every bad value is reported at once with its name, value, source and what is allowed', () => {
  try {
    loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '0', CORRAL_ACCESS_LOG: 'maybe', CORRAL_LOG_LEVEL: 'loud', CORRAL_ADMIN_BIND: 'x:y', CORRAL_ADMIN_TOKEN: 'short', CORRAL_ACCEPT: 'random' } });
    assert.fail('should throw');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
    const names = err.problems.map((p) => p.name).sort();
    assert.deepEqual(names, ['CORRAL_ACCEPT', 'CORRAL_ACCESS_LOG', 'CORRAL_ADMIN_BIND', 'CORRAL_ADMIN_TOKEN', 'CORRAL_LOG_LEVEL', 'CORRAL_WORKERS']);
    assert.match(err.message, /CORRAL_ACCEPT="random" \(from environment\): one of round-robin, shared/);
    assert.match(err.message, /CORRAL_WORKERS="0" \(from environment\): an integer from 1 to 512/);
    assert.match(err.message, /CORRAL_LOG_LEVEL="loud".*one of trace, debug/);
    // Secrets are never echoed back, even when wrong.
    assert.doesNotMatch(err.message, /short/);
  }
});

test('an empty secret is unset, like any empty setting that is off by default; a short one says to quote # in .env', () => {
  const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_TOKEN: '', CORRAL_SESSION_SECRET: '' } });
  assert.equal(settings.CORRAL_ADMIN_TOKEN, undefined);
  assert.equal(settings.CORRAL_SESSION_SECRET, undefined);
  assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_TOKEN: 'abc' } }), /at least 16 characters \(in \.env, quote a value that contains #\)/);
  assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: '' } }), /SHEETS_API_URL="" .*an http\(s\) URL/);
  // A token travels in a header: a space or non-ASCII character could never match.
  for (const bad of ['correct horse battery staple', 'pässwörd-pässwörd-pä']) {
    assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_TOKEN: bad } }), /CORRAL_ADMIN_TOKEN="<redacted>".*printable ASCII without spaces/);
  }
});

test('SHEET_ID without any credentials is refused up front (the keeper could only crash-loop behind a healthy-looking master)', () => {
  assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc' } }), /SHEET_ID="abc" \(from environment\): set with credentials, which are missing/);
  withDir((dir) => {
    const key = generateServiceAccountKey({ clientEmail: 'corral@test.iam.gserviceaccount.com', tokenUri: 'http://127.0.0.1:1/token', modulusLength: 1024 }).key;
    writeFileSync(join(dir, 'key.json'), JSON.stringify(key));
    for (const creds of [{ GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'key.json') }, { GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key) }, { SHEETS_API_KEY: 'AIza-test-key' }]) {
      assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc', ...creds } }).settings.SHEET_ID, 'abc');
    }
  });
  // stop and status do not judge it.
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc' }, judgeOnly: ['CORRAL_PIDFILE'] }).settings.SHEET_ID, 'abc');
});

test('a key file that cannot be used and a data dir that is a file are refused together, naming the setting, the path and the fix (start exits 78, a reload is refused)', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    const env = { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'absent.json'), CORRAL_DATA_DIR: join(dir, 'passwd') };
    let caught: unknown;
    try {
      loadSettings({ env, cwd: dir });
    } catch (err) {
      caught = err;
    }
    assert.ok(caught instanceof ConfigError, 'refused');
    assert.equal(caught.code, 'CORRAL_ERR_CONFIG_INVALID');
    assert.deepEqual(caught.problems.map((p) => p.name), ['GOOGLE_APPLICATION_CREDENTIALS', 'CORRAL_DATA_DIR']);
    assert.match(caught.message, new RegExp(`GOOGLE_APPLICATION_CREDENTIALS="${join(dir, 'absent.json')}" \\(from environment\\): cannot read the service-account key .*absent\\.json: ENOENT.*; give the path of a service account's JSON key file`));
    assert.match(caught.message, new RegExp(`CORRAL_DATA_DIR="${join(dir, 'passwd')}" \\(from environment\\): ${join(dir, 'passwd')} is a file, not a directory: point CORRAL_DATA_DIR at a directory`));
    // A relative key path is read from the working directory, as the keeper will read it.
    mkdirSync(join(dir, 'keys'));
    assert.throws(() => loadSettings({ env: { ...env, GOOGLE_APPLICATION_CREDENTIALS: 'keys', CORRAL_DATA_DIR: 'data' }, cwd: dir }), new RegExp(`GOOGLE_APPLICATION_CREDENTIALS="keys" .*${join(dir, 'keys')}: EISDIR.*names a directory`));
    // Commands that do not use the key (a worker) or read it at their own stage (check) skip it;
    // stop and status judge neither. Nothing is created (config --check changes nothing on disk).
    const fine = { ...env, CORRAL_DATA_DIR: join(dir, 'new', 'data') };
    assert.equal(loadSettings({ env: fine, cwd: dir, readFiles: false }).settings.CORRAL_DATA_DIR, join(dir, 'new', 'data'));
    assert.equal(loadSettings({ env, cwd: dir, judgeOnly: ['CORRAL_PIDFILE'] }).settings.SHEET_ID, 'abc');
    assert.equal(existsSync(join(dir, 'new')), false);
    // Without SHEET_ID the key is not used, so not read.
    assert.equal(loadSettings({ env: { ...fine, SHEET_ID: '' }, cwd: dir }).settings.SHEET_ID, undefined);
  });
});

test('SHEETS_API_URL is parsed as a URL, as the client will: a port above 65535 or an unclosed IPv6 bracket is refused by name, with the fix', () => {
  for (const bad of ['http://host:99999', 'http://[::1', 'http://exa mple.com', 'ftp://example.com', 'sheets.googleapis.com']) {
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: bad } }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.name === 'SHEETS_API_URL' && /an http\(s\) URL.*write http\(s\):\/\/host\[:port\]/.test(p.allowed)),
      bad,
    );
  }
  for (const good of ['https://sheets.googleapis.com', 'http://127.0.0.1:8085', 'http://[::1]:8085/prefix']) {
    assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEETS_API_URL: good } }).settings.SHEETS_API_URL, good);
  }
});

test('a path setting beginning with ~ is refused (nothing expands it in .env), saying to write the absolute path', () => {
  const err = (() => {
    try {
      loadSettings({ env: { CORRAL_ENV_FILE: 'none', HOME: '/home/ops', CORRAL_DATA_DIR: '~/corral-data', CORRAL_LOG_FILE: '~ops/corral.log', CORRAL_PIDFILE: 'run/~corral.pid' } });
    } catch (e) {
      return e;
    }
    return undefined;
  })();
  assert.ok(err instanceof ConfigError, 'refused');
  assert.deepEqual(err.problems.map((p) => p.name), ['CORRAL_LOG_FILE', 'CORRAL_DATA_DIR']);
  assert.match(err.message, /CORRAL_DATA_DIR="~\/corral-data" \(from environment\): an absolute path, without ~: nothing expands ~ .*write the absolute path: \/home\/ops\/corral-data/);
  assert.match(err.message, /CORRAL_LOG_FILE="~ops\/corral\.log" .*write the absolute path \(e\.g\. \/home\/<user>\/\.\.\.\)/);
});

test('a path setting with blank space at either end is refused: the space would be part of the name, a file or directory beside the one meant', () => {
  withDir((dir) => {
    // Quoted in the file, as dotenv keeps the space (it trims an unquoted value), and in the
    // environment (a unit's Environment=, a container's env file with Windows line ends).
    writeFileSync(join(dir, '.env'), 'CORRAL_DATA_DIR="/var/lib/corral "\nCORRAL_PIDFILE=run/corral.pid\n');
    const err = refusal(() => loadSettings({ cwd: dir, env: { CORRAL_LOG_FILE: ' /var/log/corral/corral.log', CORRAL_APP: './app.mjs\r' } }));
    assert.deepEqual(err.problems.map((p) => p.name).sort(), ['CORRAL_APP', 'CORRAL_DATA_DIR', 'CORRAL_LOG_FILE']);
    assert.match(err.message, /CORRAL_DATA_DIR="\/var\/lib\/corral " \(from \S+\.env line 1\): a path without blank space at either end: the " " at its end would be part of the name \("\/var\/lib\/corral " is not "\/var\/lib\/corral"\); remove it/);
    assert.match(err.message, /CORRAL_LOG_FILE=" \/var\/log\/corral\/corral\.log" \(from environment\): a path without blank space at either end: the " " at its start would be part of the name/);
    assert.match(err.message, /CORRAL_APP="\.\/app\.mjs\\r" \(from environment\): a path without blank space at either end: the "\\r" at its end/);
    // Blank space alone is no path either: it was a file named " " in the working directory.
    const blank = refusal(() => loadSettings({ cwd: dir, env: { CORRAL_LOG_FILE: ' ', CORRAL_PIDFILE: '\t' } }));
    assert.match(blank.message, /CORRAL_LOG_FILE=" " \(from environment\): a path, and this one is blank space alone: leave it empty for the default, or unset it/);
    assert.match(blank.message, /CORRAL_PIDFILE="\\t" \(from environment\): a path, and this one is blank space alone/);
    // Nothing was made for it, and the setting's name within is still fine.
    assert.equal(existsSync('/var/lib/corral '), false);
  });
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_DATA_DIR="my data"\n');
    assert.equal(loadSettings({ cwd: dir, env: {} }).settings.CORRAL_DATA_DIR, join(dir, 'my data'));
  });
});

test('a value in typographic quotes (pasted from a document or a chat) is refused, saying to write straight quotes or none', () => {
  withDir((dir) => {
    // dotenv strips only ' " and `: “/var/log/corral.log” was a relative path beginning with “, a
    // file made in the working directory, and “Players” a tab Google does not have.
    writeFileSync(join(dir, '.env'), 'CORRAL_LOG_FILE=“/var/log/corral/corral.log”\nSHEET_PLAYERS_RANGE=‘Players’\nCORRAL_WORKERS=„4“\nCORRAL_ADMIN_TOKEN=«abcdefghijklmnopqrstuvwx»\n');
    const err = refusal(() => loadSettings({ cwd: dir, env: {} }));
    assert.deepEqual(err.problems.map((p) => p.name).sort(), ['CORRAL_ADMIN_TOKEN', 'CORRAL_LOG_FILE', 'CORRAL_WORKERS', 'SHEET_PLAYERS_RANGE']);
    assert.match(err.message, /CORRAL_LOG_FILE="“\/var\/log\/corral\/corral\.log”" \(from \S+\.env line 1\): a value without typographic quotes: “ and ” are no quotes to dotenv, so they would be part of the value; write straight quotes \("\.\.\."\) or none$/m);
    assert.match(err.message, /SHEET_PLAYERS_RANGE="‘Players’" .*: a value without typographic quotes: ‘ and ’ are no quotes/);
    assert.match(err.message, /CORRAL_WORKERS="„4“" .*: a value without typographic quotes/);
    assert.match(err.message, /CORRAL_ADMIN_TOKEN="<redacted>" .*: a value without typographic quotes: « and » are no quotes/);
    assert.ok(!err.message.includes('abcdefghijklmnopqrstuvwx'), 'never the secret');
  });
  // Within a value they are its own: a tab's name with a quote in it.
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_PLAYERS_RANGE: 'Joueurs “A”' } }).settings.SHEET_PLAYERS_RANGE, 'Joueurs “A”');
});

test('a path setting naming a variable ($HOME, ${X}) is refused (nothing expands it in .env), offering the expansion meant', () => {
  withDir((dir) => {
    // From the file, as an operator writes it: dotenv keeps `$HOME` as it is.
    writeFileSync(join(dir, '.env'), 'CORRAL_DATA_DIR=$HOME/corral-data\nCORRAL_LOG_FILE=${LOGS_DIRECTORY}/corral.log\nCORRAL_PIDFILE=/run/corral/corral.pid\n');
    const err = (() => {
      try {
        loadSettings({ env: { HOME: '/home/ops' }, cwd: dir });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError, 'refused');
    assert.deepEqual(err.problems.map((p) => p.name).sort(), ['CORRAL_DATA_DIR', 'CORRAL_LOG_FILE']);
    assert.match(err.message, /CORRAL_DATA_DIR="\$HOME\/corral-data" \(from .*\.env line 1\): a path without \$HOME: nothing expands variables .*write the absolute path: \/home\/ops\/corral-data/);
    assert.match(err.message, /CORRAL_LOG_FILE="\$\{LOGS_DIRECTORY\}\/corral\.log" .*a path without \$LOGS_DIRECTORY: .*write the absolute path\n/);
    assert.equal(existsSync(join(dir, '$HOME')), false, 'nothing created');
  });
  // A $ that names no variable is part of a path like any other character.
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_PIDFILE: '/run/corral/a$1.pid' } }).settings.CORRAL_PIDFILE, '/run/corral/a$1.pid');
});

test('a path setting written with a shell default (${X:-/var/lib/corral}, as docker compose takes it) is refused too, offering what a shell would make of it', () => {
  withDir((dir) => {
    // Taken literally, CORRAL_DATA_DIR=${STATE_DIRECTORY:-/var/lib/corral} made a directory named
    // `${STATE_DIRECTORY:-` under the working directory and kept the journal in it, without a word.
    writeFileSync(join(dir, '.env'), 'CORRAL_DATA_DIR=${STATE_DIRECTORY:-/var/lib/corral}\nCORRAL_LOG_FILE=${LOGS_DIRECTORY:-/var/log/corral}/corral.log\nCORRAL_PIDFILE=${RUNTIME_DIRECTORY:?}/corral.pid\n');
    const err = refusal(() => loadSettings({ env: { LOGS_DIRECTORY: '/srv/logs' }, cwd: dir }));
    assert.deepEqual(err.problems.map((p) => p.name).sort(), ['CORRAL_DATA_DIR', 'CORRAL_LOG_FILE', 'CORRAL_PIDFILE']);
    assert.match(err.message, /CORRAL_DATA_DIR="\$\{STATE_DIRECTORY:-\/var\/lib\/corral\}" .*a path without \$STATE_DIRECTORY: .*write the absolute path: \/var\/lib\/corral(\n|$)/);
    assert.match(err.message, /CORRAL_LOG_FILE=.*a path without \$LOGS_DIRECTORY: .*write the absolute path: \/srv\/logs\/corral\.log(\n|$)/);
    assert.match(err.message, /CORRAL_PIDFILE=.*a path without \$RUNTIME_DIRECTORY: .*write the absolute path(\n|$)/);
    assert.equal(existsSync(join(dir, '${STATE_DIRECTORY:-')), false, 'nothing created');
  });
});

test('credentials without SHEET_ID (unset or empty) are warned of: the offline sheet is used, not Google', () => {
  for (const env of [{ SHEETS_API_KEY: 'AIzaSyExample' }, { SHEET_ID: '', GOOGLE_APPLICATION_CREDENTIALS: '/etc/corral/key.json' }]) {
    const { warnings, settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', ...env } });
    assert.equal(settings.SHEET_ID, undefined);
    assert.ok(
      warnings.some((w) => /(SHEETS_API_KEY|GOOGLE_APPLICATION_CREDENTIALS) is set but SHEET_ID is not, so corral uses the offline sheet .*: set SHEET_ID/.test(w)),
      JSON.stringify(warnings),
    );
  }
  // Neither set, or both: nothing to say.
  assert.deepEqual(loadSettings({ env: { CORRAL_ENV_FILE: 'none' } }).warnings, []);
  assert.deepEqual(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc', SHEETS_API_KEY: 'AIzaSyExample' } }).warnings, []);
});

test('SHEET_ID given as the sheet\'s URL is refused, naming the id to write; an id is taken trimmed', () => {
  const url = 'https://docs.google.com/spreadsheets/d/1AbC-dEf_9/edit';
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: url, SHEETS_API_KEY: 'AIzaSyExample' } }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.name === 'SHEET_ID' && p.allowed === "the spreadsheet's id alone, not its URL: write SHEET_ID=1AbC-dEf_9"),
  );
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: 'my sheet', SHEETS_API_KEY: 'AIzaSyExample' } }),
    (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.name === 'SHEET_ID' && /between \/d\/ and \/edit/.test(p.allowed)),
  );
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', SHEET_ID: ' 1AbC-dEf_9 ', SHEETS_API_KEY: 'AIzaSyExample' } }).settings.SHEET_ID, '1AbC-dEf_9');
});

test('a ./.env that is a directory is refused without blaming a CORRAL_ENV_FILE nobody set', () => {
  withDir((dir) => {
    mkdirSync(join(dir, '.env'));
    assert.throws(
      () => loadSettings({ env: {}, cwd: dir }),
      (err: CorralError) => err.code === 'CORRAL_ERR_ENV_FILE' && /EISDIR.*read from \.\/\.env unless CORRAL_ENV_FILE names another file: move that directory away/.test(err.message) && !/CORRAL_ENV_FILE must name/.test(err.message),
    );
    assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: '.env' }, cwd: dir }), /CORRAL_ENV_FILE must name a file, not a directory/);
  });
});

test('an empty value refused says that empty is not the default, and how to get the default', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_TIMEOUT=\nCORRAL_ACCESS_LOG=\nCORRAL_WORKERS=\nCORRAL_DATA_DIR=\n');
    const err = (() => {
      try {
        loadSettings({ env: {}, cwd: dir });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof ConfigError, 'refused');
    // CORRAL_DATA_DIR= is its default (emptyIsDefault): not a problem.
    assert.deepEqual(err.problems.map((p) => p.name), ['CORRAL_WORKERS', 'CORRAL_TIMEOUT', 'CORRAL_ACCESS_LOG']);
    const allowed = Object.fromEntries(err.problems.map((p) => [p.name, p.allowed]));
    assert.equal(allowed.CORRAL_TIMEOUT, 'an integer from 1 to 3600, in seconds (a bare number, without a unit); it is empty, which does not mean the default: delete the line (or comment it out) to use the default (30)');
    assert.match(allowed.CORRAL_WORKERS ?? '', /an integer from 1 to 512; it is empty, .*to use the default \(CPU count x 4, at most 512\)$/);
    assert.match(allowed.CORRAL_ACCESS_LOG ?? '', /^true or false .*; it is empty, .*the default \(true\)$/);
  });
});

test('auto or default written for a setting is refused saying how to get the default (gunicorn\'s workers = auto)', () => {
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: 'auto', CORRAL_TIMEOUT: 'Default', CORRAL_ACCEPT: 'default' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const allowed = Object.fromEntries(err.problems.map((p) => [p.name, p.allowed]));
      // Set in the environment, there is no line to delete.
      assert.equal(allowed.CORRAL_WORKERS, 'an integer from 1 to 512; "auto" is not a name of the default: unset it where the environment sets it (the unit\'s Environment=, the shell) to use the default (CPU count x 4, at most 512)');
      assert.match(allowed.CORRAL_TIMEOUT ?? '', /; "Default" is not a name of the default: unset it where the environment sets it .* to use the default \(30\)$/);
      assert.match(allowed.CORRAL_ACCEPT ?? '', /^one of round-robin, shared; "default" is not a name of the default: .*\(shared\)$/);
      return true;
    },
  );
  // Any other text is refused as before, with no such note.
  assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: 'many' } }), (err: unknown) => err instanceof ConfigError && err.problems[0]?.allowed === 'an integer from 1 to 512');
});

test("gunicorn's timeout 0 (off) is refused saying corral has no off, and why a long one is not needed", () => {
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_TIMEOUT: '0' } }),
    (err: unknown) =>
      err instanceof ConfigError &&
      /^an integer from 1 to 3600, in seconds \(a bare number, without a unit\); gunicorn's 0 turns its timeout off; corral always watches its workers' heartbeats \(they beat while requests wait on I\/O\)/.test(err.problems[0]?.allowed ?? ''),
  );
});

test('a ~ or $HOME path in a setting stop or status does not need is a warning for them, not a refusal', () => {
  const env = { CORRAL_ENV_FILE: 'none', HOME: '/home/ops', CORRAL_DATA_DIR: '~/corral-data', CORRAL_LOG_FILE: '$HOME/corral.log', CORRAL_PIDFILE: '/run/corral/corral.pid' };
  const { settings, warnings, invalidIgnored } = loadSettings({ env, judgeOnly: ['CORRAL_PIDFILE', 'CORRAL_GRACEFUL_TIMEOUT'] });
  assert.equal(settings.CORRAL_PIDFILE, '/run/corral/corral.pid');
  assert.deepEqual([...invalidIgnored].sort(), ['CORRAL_DATA_DIR', 'CORRAL_LOG_FILE']);
  assert.ok(warnings.some((w) => /^CORRAL_DATA_DIR="~\/corral-data" \(from environment\) is invalid \(an absolute path, without ~.*this command does not need it/.test(w)), JSON.stringify(warnings));
  assert.ok(warnings.some((w) => /^CORRAL_LOG_FILE="\$HOME\/corral\.log" .* is invalid \(a path without \$HOME/.test(w)), JSON.stringify(warnings));
  // The pidfile itself is judged: a ~ there is still refused.
  assert.throws(() => loadSettings({ env: { ...env, CORRAL_PIDFILE: '~/corral.pid' }, judgeOnly: ['CORRAL_PIDFILE'] }), /CORRAL_PIDFILE="~\/corral\.pid" .*an absolute path, without ~/);
});

test('a REDIS_URL or REDIS_TLS_CA_FILE refused at start is a warning for stop and status, which do not need them', () => {
  const env = { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc', SHEETS_API_KEY: 'AIzaSyExample', CORRAL_PIDFILE: '/run/corral/corral.pid' };
  for (const redis of [{ REDIS_URL: 'redis://host:6379', REDIS_TLS_CA_FILE: '/etc/ssl/corral-ca.pem' }, { REDIS_URL: 'redis://:s3cret@host:99999' }]) {
    const name = 'REDIS_TLS_CA_FILE' in redis ? 'REDIS_TLS_CA_FILE' : 'REDIS_URL';
    assert.throws(() => loadSettings({ env: { ...env, ...redis } }), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.name === name));
    const { warnings, invalidIgnored, settings } = loadSettings({ env: { ...env, ...redis }, judgeOnly: ['CORRAL_PIDFILE', 'CORRAL_GRACEFUL_TIMEOUT'] });
    assert.equal(settings.CORRAL_PIDFILE, '/run/corral/corral.pid');
    assert.deepEqual(invalidIgnored, [name]);
    assert.ok(warnings.some((w) => w.startsWith(`${name}=`) && w.includes('this command does not need it')), JSON.stringify(warnings));
    assert.ok(!warnings.some((w) => w.includes('s3cret')), "REDIS_URL's password stays masked");
  }
});

test('CORRAL_APP naming a script in the working directory without ./ is refused (it is read as a package name), saying what to write', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => res.end();\n');
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: 'app.mjs' }, cwd: dir }),
      (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.name === 'CORRAL_APP' && /read as the name of a package.*write CORRAL_APP=\.\/app\.mjs$/.test(p.allowed)),
    );
    // A package name, ending in .js or not, when no such file is here: one that resolves (one
    // that does not is config-app-package.test.ts's).
    for (const ok of ['./app.mjs', join(dir, 'app.mjs'), 'pino', 'undici']) {
      assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: ok }, cwd: dir }).settings.CORRAL_APP, ok);
    }
  });
});

test('CORRAL_APP naming a file that is not there, or a directory, is refused before any worker tries to import it, saying what to write where it can', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'app.mjs'), 'export default (req, res) => res.end();\n');
    mkdirSync(join(dir, 'site'));
    writeFileSync(join(dir, 'site', 'index.mjs'), 'export default (req, res) => res.end();\n');
    mkdirSync(join(dir, 'empty'));
    const refusal = (app: string): string => {
      try {
        loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_APP: app }, cwd: dir });
      } catch (err) {
        if (err instanceof ConfigError) return err.problems.find((p) => p.name === 'CORRAL_APP')?.allowed ?? '';
        throw err;
      }
      return '';
    };
    assert.equal(refusal('./missing.mjs'), `the path of an existing module file: there is no file ${join(dir, 'missing.mjs')} (./missing.mjs from the working directory ${dir})`);
    assert.equal(refusal(join(dir, 'missing.mjs')), `the path of an existing module file: there is no file ${join(dir, 'missing.mjs')}`);
    assert.equal(refusal(`file://${join(dir, 'gone.mjs')}`), `the path of an existing module file: there is no file ${join(dir, 'gone.mjs')} (file://${join(dir, 'gone.mjs')})`);
    assert.match(refusal('./app'), /there is no file .*; write CORRAL_APP=\.\/app\.mjs \(import adds no extension\)$/);
    assert.match(refusal('./site'), /is a directory, which import does not load; write CORRAL_APP=\.\/site\/index\.mjs$/);
    assert.match(refusal('./empty/'), /is a directory, which import does not load$/);
    assert.match(refusal('./app.mjs/nested.mjs'), /there is no file/);
    for (const ok of ['./app.mjs', './site/index.mjs', `file://${join(dir, 'app.mjs')}`, 'node:http', 'pino']) assert.equal(refusal(ok), '', ok);
  });
});

test('credentials set together are warned of, naming the one used and those with no effect', () => {
  withDir((dir) => {
    const key = JSON.stringify(generateServiceAccountKey({ clientEmail: 'corral@test.iam.gserviceaccount.com', tokenUri: 'http://127.0.0.1:1/token', modulusLength: 1024 }).key);
    writeFileSync(join(dir, 'key.json'), key);
    const env = { CORRAL_ENV_FILE: 'none', SHEET_ID: 'abc', GOOGLE_APPLICATION_CREDENTIALS: join(dir, 'key.json') };
    const both = loadSettings({ env: { ...env, GOOGLE_SERVICE_ACCOUNT_JSON: key }, cwd: dir }).warnings;
    assert.ok(both.includes('GOOGLE_SERVICE_ACCOUNT_JSON and GOOGLE_APPLICATION_CREDENTIALS are set together: only GOOGLE_SERVICE_ACCOUNT_JSON is used (the inline key wins over the key file, and a service-account key over an API key), so GOOGLE_APPLICATION_CREDENTIALS has no effect: unset it'), JSON.stringify(both));
    const withKey = loadSettings({ env: { ...env, SHEETS_API_KEY: 'AIzaSyExample' }, cwd: dir }).warnings;
    assert.ok(withKey.some((w) => /^GOOGLE_APPLICATION_CREDENTIALS and SHEETS_API_KEY are set together: only GOOGLE_APPLICATION_CREDENTIALS is used/.test(w)), JSON.stringify(withKey));
    assert.deepEqual(loadSettings({ env, cwd: dir }).warnings, []);
  });
});

test('integers are decimal digits: 0x10, 1e2 and 4.0 are refused', () => {
  for (const v of ['0x10', '1e2', '4.0', '0b11', ' ']) {
    assert.throws(() => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: v } }), /CORRAL_WORKERS=.*an integer from 1 to 512/, v);
  }
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: ' 16 ' } }).settings.CORRAL_WORKERS, 16);
});

test('CORRAL_LOGIN_FAILURES_PER_NAME: 10 by default, 0 turns it off, anything but an integer from 0 to 1000000 is refused by name', () => {
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none' } }).settings.CORRAL_LOGIN_FAILURES_PER_NAME, 10);
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_LOGIN_FAILURES_PER_NAME: '0' } }).settings.CORRAL_LOGIN_FAILURES_PER_NAME, 0);
  assert.equal(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_LOGIN_FAILURES_PER_NAME: ' 25 ' } }).settings.CORRAL_LOGIN_FAILURES_PER_NAME, 25);
  for (const v of ['-1', 'ten', '1e1', '2.5', '1000001', '']) {
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_LOGIN_FAILURES_PER_NAME: v } }),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.problems.length === 1 &&
        err.problems[0]?.name === 'CORRAL_LOGIN_FAILURES_PER_NAME' &&
        err.message.includes(`CORRAL_LOGIN_FAILURES_PER_NAME=${JSON.stringify(v)} (from environment): an integer from 0 to 1000000`),
      JSON.stringify(v),
    );
  }
});

test('gunicorn aliases apply with a warning; the new name wins when both are set', () => {
  const a = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_WORKERS: '5', GUNICORN_BIND: '127.0.0.1:7000', GUNICORN_WORKER_CLASS: 'gevent' } });
  assert.equal(a.settings.CORRAL_WORKERS, 5);
  assert.equal(a.sources.CORRAL_WORKERS, 'alias GUNICORN_WORKERS');
  assert.deepEqual(a.settings.CORRAL_BIND, { host: '127.0.0.1', port: 7000 });
  // Set in the environment here: the warning says to rename it there, not in an env file.
  assert.ok(a.warnings.includes("GUNICORN_WORKERS is a deprecated alias of CORRAL_WORKERS; rename it where the environment sets it (the unit's Environment=, the shell) (value used: 5)"), a.warnings.join('\n'));
  assert.ok(a.warnings.some((w) => /GUNICORN_WORKER_CLASS is ignored/.test(w)));
  const backlog = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_BACKLOG: '4096' } });
  assert.equal(backlog.settings.CORRAL_BACKLOG, 4096);
  assert.equal(backlog.sources.CORRAL_BACKLOG, 'alias GUNICORN_BACKLOG');
  const b = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_WORKERS: '5', CORRAL_WORKERS: '2' } });
  assert.equal(b.settings.CORRAL_WORKERS, 2);
  assert.ok(b.warnings.some((w) => w === 'GUNICORN_WORKERS is ignored because CORRAL_WORKERS is also set'));
});

test("gunicorn's max_requests_jitter and limit_request_fields are read beside max_requests; its per-line and per-header limits are said to be ignored, naming what stands in", () => {
  // GUNICORN_MAX_REQUESTS was taken and its jitter ignored ("unknown setting"): every worker
  // recycled at the same count, the herd the jitter had been set to prevent.
  const a = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_MAX_REQUESTS: '1000', GUNICORN_MAX_REQUESTS_JITTER: '50', GUNICORN_LIMIT_REQUEST_FIELDS: '200', GUNICORN_LIMIT_REQUEST_LINE: '8190', GUNICORN_LIMIT_REQUEST_FIELD_SIZE: '16380' } });
  assert.equal(a.settings.CORRAL_MAX_REQUESTS, 1000);
  assert.equal(a.settings.CORRAL_MAX_REQUESTS_JITTER, 50);
  assert.equal(a.sources.CORRAL_MAX_REQUESTS_JITTER, 'alias GUNICORN_MAX_REQUESTS_JITTER');
  assert.equal(a.settings.CORRAL_LIMIT_REQUEST_FIELDS, 200);
  assert.equal(a.sources.CORRAL_LIMIT_REQUEST_FIELDS, 'alias GUNICORN_LIMIT_REQUEST_FIELDS');
  assert.equal(a.warnings.filter((w) => /unknown setting/.test(w)).length, 0, a.warnings.join('\n'));
  assert.ok(a.warnings.some((w) => /^GUNICORN_LIMIT_REQUEST_LINE is ignored: .*CORRAL_LIMIT_REQUEST_HEADER_BYTES/.test(w)), a.warnings.join('\n'));
  assert.ok(a.warnings.some((w) => /^GUNICORN_LIMIT_REQUEST_FIELD_SIZE is ignored: .*CORRAL_LIMIT_REQUEST_HEADER_BYTES/.test(w)), a.warnings.join('\n'));
  // gunicorn's 0 is its own maximum: refused, saying so, not taken as one field.
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_LIMIT_REQUEST_FIELDS: '0' } }),
    (err: Error) => /CORRAL_LIMIT_REQUEST_FIELDS="0" \(from alias GUNICORN_LIMIT_REQUEST_FIELDS\).*gunicorn reads 0 as its own maximum/s.test(err.message),
  );
});

test("gunicorn's own variables, GUNICORN_CMD_ARGS and WEB_CONCURRENCY, are said to be ignored with the settings that stand in for them", () => {
  // "unknown setting GUNICORN_CMD_ARGS: ignored" left the operator to translate every flag, and
  // WEB_CONCURRENCY (gunicorn's default worker count) was not mentioned at all: CPU x 4 workers.
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), `GUNICORN_CMD_ARGS="--workers 8 --bind=0.0.0.0:8000 -t 60 --preload --keep-alive 2"\nWEB_CONCURRENCY=4\n`);
    const a = loadSettings({ cwd: dir, env: {} });
    assert.equal(a.warnings.filter((w) => /unknown setting/.test(w)).length, 0, a.warnings.join('\n'));
    const cmd = a.warnings.find((w) => w.startsWith('GUNICORN_CMD_ARGS'));
    assert.match(cmd ?? '', /^GUNICORN_CMD_ARGS \(\S+\.env line 1\) is ignored: corral takes no command-line flags, its settings are variables: set CORRAL_WORKERS=8, CORRAL_BIND=0\.0\.0\.0:8000, CORRAL_TIMEOUT=60 and CORRAL_KEEPALIVE=2 in the environment or the settings file instead; --preload has no setting of corral's$/, a.warnings.join('\n'));
    assert.ok(a.warnings.some((w) => /^WEB_CONCURRENCY \(\S+\.env line 2\) is ignored: gunicorn's default worker count is no setting of corral's: set CORRAL_WORKERS=4 instead \(unset, corral runs CPU count x 4, at most 512: \d+ here\)$/.test(w)), a.warnings.join('\n'));
  });
  // A secret's value is not repeated; WEB_CONCURRENCY beside CORRAL_WORKERS is said to be ignored for it.
  const b = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GUNICORN_CMD_ARGS: "--session-secret 'abc def' -w4", WEB_CONCURRENCY: '4', CORRAL_WORKERS: '2' } });
  assert.ok(b.warnings.some((w) => /^GUNICORN_CMD_ARGS \(set in the environment\) is ignored: .*set CORRAL_SESSION_SECRET \(its value, not shown: a secret\) and CORRAL_WORKERS=4 in /.test(w)), b.warnings.join('\n'));
  assert.ok(!b.warnings.some((w) => w.includes('abc def')), b.warnings.join('\n'));
  assert.ok(b.warnings.some((w) => /^WEB_CONCURRENCY \(set in the environment\) is ignored: .*CORRAL_WORKERS=2 is the count in force$/.test(w)), b.warnings.join('\n'));
});

test('the README names every gunicorn alias, in the list of old names and in its setting\'s row', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const list = /The old deployment's ([\s\S]*?) are\saccepted with one warning each/.exec(readme)?.[1] ?? '';
  const rows = new Map(readme.split('\n').filter((l) => l.startsWith('| `')).map((l) => [/^\| `([A-Z0-9_]+)`/.exec(l)?.[1], l]));
  for (const name of settingNames) {
    for (const alias of (schema[name] as SettingSpec<unknown>).aliases ?? []) {
      assert.ok(list.includes(`\`${alias}\``), `${alias} missing from the README's list of old names`);
      assert.match(rows.get(name) ?? '', new RegExp(`Old name: \`${alias}\``), `${name}'s row should say Old name: ${alias}`);
    }
  }
  for (const name of Object.keys(IGNORED_WITH_NOTE)) assert.ok(readme.includes(`\`${name}\``), `${name}, ignored with a note, is not named in the README`);
});

test('CORRAL_TRUSTED_PROXIES takes addresses and CIDR blocks, and names the entry that is neither', () => {
  const ok = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_TRUSTED_PROXIES: '127.0.0.1, 10.0.0.0/8,::1' } });
  assert.deepEqual(ok.settings.CORRAL_TRUSTED_PROXIES, ['127.0.0.1', '10.0.0.0/8', '::1']);
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_TRUSTED_PROXIES: 'nginx.local,10.0.0.0/33' } }),
    (err: unknown) => err instanceof ConfigError && /"nginx.local" is neither/.test(err.message),
  );
});

test('unknown CORRAL_* names get a did-you-mean warning', () => {
  const { warnings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKER: '3', CORRAL_TIMEOUTT: '4', CORRAL_ZZZZZZZZZZZZZ: '1' } });
  assert.ok(warnings.includes('unknown setting CORRAL_WORKER (set in the environment): did you mean CORRAL_WORKERS?'));
  assert.ok(warnings.includes('unknown setting CORRAL_TIMEOUTT (set in the environment): did you mean CORRAL_TIMEOUT?'));
  assert.ok(warnings.includes('unknown setting CORRAL_ZZZZZZZZZZZZZ (set in the environment): ignored'));
});

test('paths resolve against the working directory; children get the merged env (the app\'s own names too) without a file', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'CORRAL_PIDFILE=run/corral.pid\nCORRAL_TIMEOUT=12\nDATABASE_URL=postgres://db/app\nAPP_MODE=file\n');
    const loaded = loadSettings({ env: { PATH: '/bin', APP_MODE: 'environment' }, cwd: dir });
    // The app's own names reach its workers, under the real environment.
    assert.equal(loaded.childEnv.DATABASE_URL, 'postgres://db/app');
    assert.equal(loaded.childEnv.APP_MODE, 'environment');
    assert.equal(loaded.settings.CORRAL_PIDFILE, join(dir, 'run', 'corral.pid'));
    assert.equal(loaded.childEnv.CORRAL_TIMEOUT, '12');
    assert.equal(loaded.childEnv.CORRAL_ENV_FILE, 'none');
    assert.equal(loaded.childEnv.PATH, '/bin');
  });
});

test('secrets are redacted for display', () => {
  assert.equal(displayValue('CORRAL_ADMIN_TOKEN', 'abcdefghijklmnopq'), '<redacted>');
  assert.equal(displayValue('CORRAL_ADMIN_TOKEN', undefined), '(unset)');
  assert.equal(displayValue('CORRAL_TIMEOUT', 30), '30');
});

test('every setting has a description and a type, and each default parses back to itself', () => {
  for (const name of settingNames) {
    const spec = schema[name] as SettingSpec<unknown>;
    assert.ok(spec.description.length > 10, `${name} has a description`);
    assert.ok(spec.type.length > 0);
    const d = typeof spec.default === 'function' ? (spec.default as () => unknown)() : spec.default;
    if (d === undefined) continue;
    const parsed = spec.parse(spec.format(d));
    assert.ok(parsed.ok, `${name}'s default round-trips`);
    assert.deepEqual(parsed.value, d);
  }
});

test('config/.env.example documents every setting and matches the schema exactly', () => {
  const committed = readFileSync(join(REPO_ROOT, 'config', '.env.example'), 'utf8');
  assert.equal(committed, renderEnvExample(), 'regenerate with: node bin/corral config --example > config/.env.example');
  assert.deepEqual(exampleNames(committed).sort(), [...settingNames].sort());
});

test('uncommenting any setting line of config/.env.example gives a value the schema accepts (a computed default is said, with an example)', () => {
  const text = renderEnvExample();
  const refused = [...text.matchAll(/^# ([A-Z][A-Z0-9_]+)=(.*)$/gm)]
    .filter(([, name]) => settingNames.includes(name as never))
    .filter(([, name, value]) => !(schema[name as keyof typeof schema] as SettingSpec<unknown>).parse(value ?? '').ok)
    .map(([line]) => line);
  assert.deepEqual(refused, []);
  assert.match(text, /^# default: CPU count x 4, at most 512; for example:\n# CORRAL_WORKERS=8$/m);
});

test('the CPU x 4 default of CORRAL_WORKERS stays within its range (at most 512)', () => {
  assert.deepEqual([defaultWorkers(1), defaultWorkers(2), defaultWorkers(128), defaultWorkers(200)], [4, 8, 512, 512]);
  assert.equal(schema.CORRAL_WORKERS.parse(String(defaultWorkers(200))).ok, true);
});

test('the README settings table lists every setting', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const missing = settingNames.filter((name) => !readme.includes(`| \`${name}\` |`));
  assert.deepEqual(missing, [], 'add them to the Settings table in README.md');
});

test('bind addresses: port alone, :port, host:port and [v6]:port are taken; a malformed host or port is refused at load, saying what is wrong', () => {
  const bind = (raw: string) => schema.CORRAL_BIND.parse(raw);
  for (const [raw, host, port] of [
    ['8080', '0.0.0.0', 8080],
    [':8080', '0.0.0.0', 8080],
    ['127.0.0.1:8080', '127.0.0.1', 8080],
    ['[::1]:8080', '::1', 8080],
    ['[::]:0', '::', 0],
    ['localhost:8080', 'localhost', 8080],
    ['web-1.example.com:80', 'web-1.example.com', 80],
  ] as const) {
    assert.deepEqual(bind(raw), { ok: true, value: { host, port } }, raw);
  }
  // A port alone keeps the setting's default host: the admin API's is loopback, and a bare port
  // put it on every interface (refused without a token; with one, open to the network).
  assert.deepEqual(schema.CORRAL_ADMIN_BIND.parse('9091'), { ok: true, value: { host: '127.0.0.1', port: 9091 } });
  assert.deepEqual(schema.CORRAL_ADMIN_BIND.parse(':9091'), { ok: true, value: { host: '127.0.0.1', port: 9091 } });
  assert.deepEqual(schema.CORRAL_ADMIN_BIND.parse('0.0.0.0:9091'), { ok: true, value: { host: '0.0.0.0', port: 9091 } });
  // With a token (meant, perhaps, for other hosts to reach it), it says where it listens.
  const withToken = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_BIND: ':9091', CORRAL_ADMIN_TOKEN: 'token-of-the-admin-0123456789' } });
  assert.deepEqual(withToken.warnings, ['CORRAL_ADMIN_BIND=:9091 (environment) is a port alone: the admin API listens on 127.0.0.1:9091, loopback only; write 0.0.0.0:9091 for it to be reached from other hosts']);
  assert.deepEqual(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ADMIN_BIND: '9091' } }).warnings, [], 'without a token, nothing to say');
  // Each of these used to pass as a host name and fail only at listen time, in every worker, after
  // corral had started (999.1.1.1: getaddrinfo ENOTFOUND), or bound another address than meant.
  for (const [raw, why] of [
    ['999.1.1.1:8080', '999.1.1.1 is not a valid IPv4 address'],
    ['10.0.0.1.2:8080', '10.0.0.1.2 is not a valid IPv4 address'],
    ['-web:8080', '-web is neither an IP address nor a valid host name'],
    ['my_host:8080', 'my_host is neither an IP address nor a valid host name'],
    ['::1:8080', 'an IPv6 address needs brackets around it'],
    ['[10.0.0.1]:8080', '[10.0.0.1] is not an IPv6 address'],
    ['[::1]', 'no port after the bracketed address'],
    ['0.0.0.0', 'no port'],
    ['127.0.0.1:', 'no port'],
    ['localhost:99999', 'port 99999 is above 65535'],
    ['127.0.0.1:http', 'port "http" is not a number'],
    ['http://0.0.0.0:8080', 'a URL or a path is not an address'],
  ] as const) {
    const r = bind(raw);
    assert.equal(r.ok, false, raw);
    if (!r.ok) assert.equal(r.allowed, `${why}; write host:port, e.g. 0.0.0.0:8080, 127.0.0.1:9090 or [::1]:8080 (port 0..65535)`, raw);
  }
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '999.1.1.1:8080' } }),
    (err: unknown) => err instanceof ConfigError && /CORRAL_BIND="999\.1\.1\.1:8080" \(from environment\): 999\.1\.1\.1 is not a valid IPv4 address; write host:port/.test(err.message),
  );
});

test('a misspelt prefix in the env file (CORAL_, CORRALWORKERS, CORRAL-, SHEETID) gets a did-you-mean warning naming the line; unrelated names, and the environment\'s, do not', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, 'CORAL_WORKERS=3\nCORRAL-TIMEOUT=5\nCORRALWORKERS=2\nSHEETID=x\nNODE_ENV=production\nDATABASE_URL=postgres://db\nPORT=3000\nAPP_NAME=shop\n');
    const { warnings } = loadSettings({ env: { CORAL_TIMEOUT: '9', SHEETSID: 'y' }, cwd: dir });
    assert.deepEqual(warnings, [
      `unknown setting CORAL_WORKERS (${file} line 1): did you mean CORRAL_WORKERS?`,
      `unknown setting CORRAL-TIMEOUT (${file} line 2): did you mean CORRAL_TIMEOUT?`,
      `unknown setting CORRALWORKERS (${file} line 3): did you mean CORRAL_WORKERS?`,
      `unknown setting SHEETID (${file} line 4): did you mean SHEET_ID?`,
    ]);
  });
});

test('a near miss of a GOOGLE_* setting gets a did-you-mean warning; Google\'s own variables are left alone', () => {
  const { warnings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', GOOGLE_APPLICATION_CREDENTIAL: '/etc/corral/key.json', GOOGLE_CLOUD_PROJECT: 'p', GOOGLE_SERVICE_ACCOUNT_JSN: '{}' } });
  assert.deepEqual(warnings, [
    'unknown setting GOOGLE_APPLICATION_CREDENTIAL (set in the environment): did you mean GOOGLE_APPLICATION_CREDENTIALS?',
    'unknown setting GOOGLE_SERVICE_ACCOUNT_JSN (set in the environment): did you mean GOOGLE_SERVICE_ACCOUNT_JSON?',
  ]);
});

test('a near miss of a REDIS_* setting gets a did-you-mean warning (a misspelt REDIS_URL leaves the host unshared); other tools\' REDIS_* variables are left alone', () => {
  const { warnings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', REDIS_ULR: 'redis://127.0.0.1:6379', redis_url: 'redis://127.0.0.1:6379', REDIS_HOST: 'cache', REDIS_PASSWORD: 'x' } });
  assert.deepEqual(warnings, [
    'unknown setting REDIS_ULR (set in the environment): did you mean REDIS_URL?',
    'unknown setting redis_url (set in the environment; setting names are upper case): did you mean REDIS_URL?',
  ]);
});

test('an empty tab range or data dir is its default, and `corral config` shows that value, not "(unset)"', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'SHEET_PLAYERS_RANGE=\nSHEET_EVENTS_RANGE=\nCORRAL_DATA_DIR=\nCORRAL_PIDFILE=\n');
    const { settings, sources } = loadSettings({ env: {}, cwd: dir });
    assert.equal(displayValue('SHEET_PLAYERS_RANGE', settings.SHEET_PLAYERS_RANGE), 'Players');
    assert.equal(displayValue('SHEET_EVENTS_RANGE', settings.SHEET_EVENTS_RANGE), 'Events');
    assert.equal(settings.CORRAL_DATA_DIR, join(dir, 'data'));
    assert.equal(sources.SHEET_PLAYERS_RANGE, '.env');
    // An empty pidfile still means none (stop and status say CORRAL_PIDFILE is empty).
    assert.equal(settings.CORRAL_PIDFILE, undefined);
  });
});

test('an unquoted value that dotenv cuts at a # written right after it is a warning naming the line, the name and the fix, never the value', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, 'CORRAL_ADMIN_TOKEN=abcdefghijklmnopqr#stuvwx\nSHEET_PLAYERS_RANGE=Players#1\nCORRAL_WORKERS=3 # three\n', { mode: 0o600 });
    const { settings, warnings } = loadSettings({ env: {}, cwd: dir });
    assert.equal(settings.SHEET_PLAYERS_RANGE, 'Players');
    const cut = (line: number, name: string) =>
      `line ${line} of ${file}: the value of ${name} ends at its "#" (dotenv reads an unquoted value only up to a #), so what follows the # is dropped: if the # is part of the value, quote the value (${name}="..."); if it begins a comment, put a space before it`;
    assert.deepEqual(warnings, [cut(1, 'CORRAL_ADMIN_TOKEN'), cut(2, 'SHEET_PLAYERS_RANGE')]);
    assert.ok(!warnings.join('\n').includes('stuvwx') && !warnings.join('\n').includes('abcdefghijklmnopqr'), 'the value is never shown');
  });
});

test('a value whose opening quote is never closed is refused naming the file, the line, the setting and the fix, before its setting would misread it (a path with a " in it, a host name "127.0.0.1)', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    // A path with its quote kept was a relative path: start made a directory named `"` under dir.
    writeFileSync(file, [`CORRAL_PIDFILE="${dir}/run/x.pid`, `CORRAL_LOG_FILE="${dir}/x.log`, 'CORRAL_BIND="127.0.0.1:19210', "GUNICORN_TIMEOUT='30", 'CORRAL_ADMIN_TOKEN="abcdefghijklmnopqrstuvwxyz', 'NOTE="a multi-line', 'value, closed"', "SHEET_PLAYERS_RANGE='My Sheet'!A1:C", ''].join('\n'));
    const fix = (q: string) => `its opening ${q} is never closed, so dotenv keeps the ${q} as part of the value: close the quote or remove it (a quoted value may span lines; it ends at its closing ${q}, followed by nothing but a # comment)`;
    assert.throws(
      () => loadSettings({ env: {}, cwd: dir }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CORRAL_ERR_CONFIG_INVALID');
        assert.deepEqual(
          err.problems.map((p) => [p.name, p.source, p.allowed]).sort(),
          [
            ['CORRAL_BIND', `${file} line 3`, fix('"')],
            ['CORRAL_TIMEOUT', `alias GUNICORN_TIMEOUT in ${file} line 4`, fix("'")],
            ['CORRAL_PIDFILE', `${file} line 1`, fix('"')],
            ['CORRAL_LOG_FILE', `${file} line 2`, fix('"')],
            ['CORRAL_ADMIN_TOKEN', `${file} line 5`, fix('"')],
          ].sort(),
        );
        assert.match(err.message, new RegExp(`CORRAL_PIDFILE="\\\\"${dir}/run/x\\.pid" \\(from ${file} line 1\\): its opening " is never closed`));
        assert.ok(!err.message.includes('neither an IP address'), 'the bind address is refused for its quote, not as a host name');
        assert.ok(!err.message.includes('abcdefghij'), 'a secret is never shown');
        return true;
      },
    );
    assert.equal(existsSync(join(dir, '"')), false);
    // Closed, the same file is taken (the multi-line value and the quoted Sheets range were all along).
    writeFileSync(file, [`CORRAL_PIDFILE="${dir}/run/x.pid"`, `CORRAL_LOG_FILE=${dir}/x.log`, 'CORRAL_BIND="127.0.0.1:19210"', 'NOTE="a multi-line', 'value, closed"', "SHEET_PLAYERS_RANGE='My Sheet'!A1:C", ''].join('\n'));
    const { settings, warnings } = loadSettings({ env: {}, cwd: dir, readFiles: false });
    assert.deepEqual([settings.CORRAL_PIDFILE, settings.CORRAL_LOG_FILE, settings.SHEET_PLAYERS_RANGE], [`${dir}/run/x.pid`, `${dir}/x.log`, "'My Sheet'!A1:C"]);
    assert.deepEqual(warnings, []);
  });
});

test('an unclosed quote in a value corral does not read (another program\'s name, a line set again later, a value the environment overrides) is a warning naming the line and the name, never the value; a command that needs only some settings warns of the others', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, ['APP_SECRET="s3cret-s3cret', 'CORRAL_WORKERS="4', 'CORRAL_WORKERS=3', 'CORRAL_TIMEOUT="20', 'CORRAL_BIND="127.0.0.1:19210', ''].join('\n'));
    const said = (line: number, name: string) => `line ${line} of ${file}: the value of ${name} begins with ", never closed, so dotenv keeps the " as part of the value: close the quote or remove it`;
    const { settings, warnings } = loadSettings({ env: { CORRAL_TIMEOUT: '25', CORRAL_BIND: '127.0.0.1:19211' }, cwd: dir });
    assert.deepEqual([settings.CORRAL_WORKERS, settings.CORRAL_TIMEOUT], [3, 25]);
    for (const [line, name] of [[1, 'APP_SECRET'], [2, 'CORRAL_WORKERS'], [4, 'CORRAL_TIMEOUT'], [5, 'CORRAL_BIND']] as const) assert.ok(warnings.includes(said(line, name)), `${name}: ${warnings.join('\n')}`);
    assert.ok(!warnings.join('\n').includes('s3cret'), 'the value is never shown');
    // stop and status judge only what they need: the bind address read from the file is warned of, its default used.
    const only = loadSettings({ env: {}, cwd: dir, judgeOnly: ['CORRAL_PIDFILE'] });
    assert.equal(only.sources.CORRAL_BIND, 'default');
    assert.ok(only.warnings.some((w) => w.startsWith(`CORRAL_BIND="\\"127.0.0.1:19210" (from ${file} line 5) is invalid (its opening " is never closed`)), only.warnings.join('\n'));
    assert.ok(!only.warnings.includes(said(5, 'CORRAL_BIND')), 'said once');
  });
});

test('a name set twice in .env is named with its lines; the last one is used (a quoted multi-line value is not counted)', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, '\uFEFFCORRAL_WORKERS=4\r\nNOTE="first\r\nCORRAL_WORKERS=99\r\n"\r\n# CORRAL_WORKERS=1\r\nexport CORRAL_WORKERS=8\r\nCORRAL_TIMEOUT=20\r\n');
    const { settings, warnings } = loadSettings({ env: {}, cwd: dir });
    assert.equal(settings.CORRAL_WORKERS, 8);
    assert.equal(settings.CORRAL_TIMEOUT, 20);
    // In the order of the lines (the duplicate's first).
    assert.deepEqual(warnings, [
      `CORRAL_WORKERS is set 2 times in ${file} (lines 1, 6); the last one (line 6) is used: delete the duplicate lines`,
      // The line inside NOTE's value reads as a setting: said too, in case it was meant as one.
      `line 2 of ${file}: the value of NOTE is quoted across lines 2 to 4, and holds lines that read as settings (CORRAL_WORKERS on line 3): dotenv takes them as part of that value, not as settings. If they are settings, close the quote on line 2`,
    ]);
    const overridden = loadSettings({ env: { CORRAL_WORKERS: '2' }, cwd: dir });
    assert.equal(overridden.settings.CORRAL_WORKERS, 2);
    assert.match(overridden.warnings[0] ?? '', /\(lines 1, 6\); and in the environment, whose value is used: delete the duplicate lines$/);
  });
});

test('a line of .env that is not NAME=value (a missing =, a space in the name) is named with its line, not skipped in silence; what follows its first word is never shown', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, '\uFEFF# comment\r\nCORRAL_WORKERS 8\r\n\r\nCORRAL WORKERS=8\rCORRAL_ADMIN_TOKEN  s3cret-s3cret-s3cret\nNOTE="a\nnot an assignment\n"\n  export CORRAL_TIMEOUT=20\n=3\n');
    const { settings, warnings } = loadSettings({ env: {}, cwd: dir });
    assert.equal(settings.CORRAL_TIMEOUT, 20);
    assert.equal(settings.CORRAL_WORKERS, loadSettings({ env: { CORRAL_ENV_FILE: 'none' } }).settings.CORRAL_WORKERS, 'dotenv skips `CORRAL_WORKERS 8`: the default holds');
    const fix = 'write it as NAME=value, or comment it out with #';
    assert.deepEqual(warnings, [
      `line 2 of ${file} is not NAME=value, so it is ignored (it begins CORRAL_WORKERS): ${fix}`,
      `line 4 of ${file} is not NAME=value, so it is ignored (it begins CORRAL): ${fix}`,
      `line 5 of ${file} is not NAME=value, so it is ignored (it begins CORRAL_ADMIN_TOKEN): ${fix}`,
      `line 10 of ${file} is not NAME=value, so it is ignored: ${fix}`,
    ]);
    assert.ok(!warnings.join('\n').includes('s3cret'), 'a secret on an ignored line is not echoed');
  });
});

test('a refused value read from the env file names that file and its line, not ".env" (under systemd it is /etc/corral/corral.env)', () => {
  withDir((dir) => {
    const file = join(dir, 'corral.env');
    writeFileSync(file, '# corral\nCORRAL_WORKERS=4\nGUNICORN_TIMEOUT=0\n\nCORRAL_WORKERS=lots\n');
    assert.throws(
      () => loadSettings({ env: { CORRAL_ENV_FILE: file, CORRAL_KEEPALIVE: '-1' }, cwd: dir }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`CORRAL_WORKERS="lots" \\(from ${file} line 5\\): an integer from 1 to 512`));
        assert.match(err.message, new RegExp(`CORRAL_TIMEOUT="0" \\(from alias GUNICORN_TIMEOUT in ${file} line 3\\)`));
        assert.match(err.message, /CORRAL_KEEPALIVE="-1" \(from environment\)/);
        return true;
      },
    );
    // Commands that need only some settings warn of the others the same way.
    const { warnings, sources } = loadSettings({ env: { CORRAL_ENV_FILE: file }, cwd: dir, judgeOnly: ['CORRAL_PIDFILE'] });
    assert.ok(warnings.some((w) => w.startsWith(`CORRAL_WORKERS="lots" (from ${file} line 5) is invalid`)), warnings.join('\n'));
    assert.equal(sources.CORRAL_PIDFILE, 'default');
  });
});

test('CORRAL_ENV_FILE set inside the env file is said to have no effect (which file to read is decided before any is read)', () => {
  withDir((dir) => {
    writeFileSync(join(dir, 'other.env'), 'CORRAL_WORKERS=7\n');
    writeFileSync(join(dir, '.env'), 'CORRAL_TIMEOUT=12\nCORRAL_ENV_FILE=other.env\n');
    const { settings, warnings, envFile } = loadSettings({ env: {}, cwd: dir });
    assert.equal(envFile, join(dir, '.env'));
    assert.equal(settings.CORRAL_TIMEOUT, 12);
    assert.deepEqual(warnings, [
      `CORRAL_ENV_FILE in ${join(dir, '.env')} line 2 has no effect: it says which file to read, so only the environment can set it (under systemd, Environment=CORRAL_ENV_FILE=... in the unit); this file was read`,
    ]);
    assert.match(renderEnvExample(), /# Path of the \.env file to read .*From the environment only: set in this file it has no effect\.\n# CORRAL_ENV_FILE=/);
  });
});

test('a value written with a unit (30s, 64M, 1s) is refused saying which unit is implied and that none is written', () => {
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_TIMEOUT: '30s', CORRAL_L1_CACHE_MB: '64M', SHEETS_FLUSH_INTERVAL_MS: '1s', CORRAL_LIMIT_REQUEST_BODY_BYTES: '1MB' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /CORRAL_TIMEOUT="30s" \(from environment\): an integer from 1 to 3600, in seconds \(a bare number, without a unit\)/);
      assert.match(err.message, /CORRAL_L1_CACHE_MB="64M" .*: an integer from 1 to 4096, in MiB \(a bare number/);
      assert.match(err.message, /SHEETS_FLUSH_INTERVAL_MS="1s" .*: an integer from 10 to 600000, in milliseconds/);
      assert.match(err.message, /CORRAL_LIMIT_REQUEST_BODY_BYTES="1MB" .*, in bytes/);
      return true;
    },
  );
  // Every setting whose description speaks of seconds says so when refused.
  for (const name of settingNames) {
    const spec = schema[name] as SettingSpec<unknown>;
    if (!/^Seconds\b/.test(spec.description) || !spec.type.startsWith('integer')) continue;
    const refused = spec.parse('30s');
    assert.ok(!refused.ok && /in seconds/.test(refused.allowed), `${name} names its unit`);
    assert.match(spec.type, /\(seconds\)$/, `${name}'s type in .env.example`);
  }
});

test('a setting name in lower or mixed case sets nothing, and is named with the upper-case name it meant', () => {
  withDir((dir) => {
    writeFileSync(join(dir, '.env'), 'corral_workers=4\nCorral_Timeout=5\nsheet_id=abc\ngoogle_application_credentials=/k.json\ncorral_nonsense=1\n');
    const { settings, warnings } = loadSettings({ env: {}, cwd: dir });
    assert.equal(settings.SHEET_ID, undefined);
    assert.equal(settings.CORRAL_TIMEOUT, 30);
    // Named with the file and line to fix.
    const env = join(dir, '.env');
    assert.deepEqual(warnings, [
      `unknown setting corral_workers (${env} line 1; setting names are upper case): did you mean CORRAL_WORKERS?`,
      `unknown setting Corral_Timeout (${env} line 2; setting names are upper case): did you mean CORRAL_TIMEOUT?`,
      `unknown setting sheet_id (${env} line 3; setting names are upper case): did you mean SHEET_ID?`,
      `unknown setting google_application_credentials (${env} line 4; setting names are upper case): did you mean GOOGLE_APPLICATION_CREDENTIALS?`,
      `unknown setting corral_nonsense (${env} line 5; setting names are upper case): ignored`,
    ]);
  });
});

test('the warnings on settings taken together come with a refusal of others', () => {
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: 'zero', CORRAL_HEADERS_TIMEOUT: '90', CORRAL_REQUEST_TIMEOUT: '60', CORRAL_MAX_REQUESTS_JITTER: '50' } }),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.problems.map((p) => p.name), ['CORRAL_WORKERS']);
      assert.ok(err.warnings.includes('CORRAL_HEADERS_TIMEOUT is longer than CORRAL_REQUEST_TIMEOUT; the request timeout applies to headers too'), JSON.stringify(err.warnings));
      assert.ok(err.warnings.includes('CORRAL_MAX_REQUESTS_JITTER has no effect while CORRAL_MAX_REQUESTS is 0'), JSON.stringify(err.warnings));
      return true;
    },
  );
  // Not judged on a value that is itself refused.
  assert.throws(
    () => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_REQUEST_TIMEOUT: 'soon', CORRAL_HEADERS_TIMEOUT: '90' } }),
    (err: unknown) => err instanceof ConfigError && !err.warnings.some((w) => w.startsWith('CORRAL_HEADERS_TIMEOUT is longer')),
  );
});

test('a settings file every user may read that holds a secret is a warning with the fix; one without a secret, or private, is not', () => {
  withDir((dir) => {
    const file = join(dir, '.env');
    writeFileSync(file, 'CORRAL_WORKERS=2\nCORRAL_ADMIN_TOKEN=abcdefghijklmnopqrstuvwxyz\n');
    chmodSync(file, 0o644);
    const open = loadSettings({ env: {}, cwd: dir }).warnings;
    assert.deepEqual(open, [`${file} is readable by every user of this host (mode 0644) and holds CORRAL_ADMIN_TOKEN: chmod 600 ${file} (or 640, owned by root and the service's group, as the Deploy steps install it)`]);
    assert.ok(!open.join('').includes('abcdefghijklmnopqrstuvwxyz'), 'never the value');
    chmodSync(file, 0o640);
    assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings, []);
    writeFileSync(file, 'CORRAL_WORKERS=2\n');
    chmodSync(file, 0o644);
    assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings, [], 'no secret in it');
    // REDIS_URL is secret only for its password (or user): a URL without one holds none.
    for (const url of ['redis://127.0.0.1:6380/2', 'redis://127.0.0.1:06380/2', 'unix:///run/redis.sock?db=1']) {
      writeFileSync(file, `REDIS_URL=${url}\n`);
      assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings.filter((w) => w.includes('readable by every user')), [], `a REDIS_URL without a password: ${url}`);
    }
    writeFileSync(file, 'REDIS_URL=redis://:s3cret@127.0.0.1:6380/2\n');
    assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings.filter((w) => w.includes('readable by every user')), [`${file} is readable by every user of this host (mode 0644) and holds REDIS_URL: chmod 600 ${file} (or 640, owned by root and the service's group, as the Deploy steps install it)`]);
    // A proxy's password, masked wherever corral shows the URL, under either spelling of its name;
    // a proxy URL without one holds none.
    writeFileSync(file, 'https_proxy=http://me:s3cret@proxy:3128\nHTTP_PROXY=http://proxy:3128\n');
    assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings.filter((w) => w.includes('readable by every user')), [`${file} is readable by every user of this host (mode 0644) and holds HTTPS_PROXY: chmod 600 ${file} (or 640, owned by root and the service's group, as the Deploy steps install it)`]);
    writeFileSync(file, 'HTTPS_PROXY=http://proxy:3128\n');
    assert.deepEqual(loadSettings({ env: {}, cwd: dir }).warnings.filter((w) => w.includes('readable by every user')), [], 'a proxy without a password');
  });
});

test('with round-robin, a CORRAL_MAX_CONNECTIONS below the worker count is a warning: each worker holds one connection at least, the host one per worker', () => {
  const rr = (env: Record<string, string>) => loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_ACCEPT: 'round-robin', ...env } }).warnings.filter((w) => w.startsWith('CORRAL_MAX_CONNECTIONS='));
  // The audit's case: 64 workers under a cap of 32 held 64 connections, and the capacity said 200 %.
  assert.deepEqual(rr({ CORRAL_WORKERS: '64', CORRAL_MAX_CONNECTIONS: '32' }), [
    'CORRAL_MAX_CONNECTIONS=32 is below CORRAL_WORKERS=64 with CORRAL_ACCEPT=round-robin: each worker holds its share of the cap but one connection at least, so the host may hold 64, over the cap (the capacity reads over 100 %); raise CORRAL_MAX_CONNECTIONS to 64 or more, lower CORRAL_WORKERS, or set CORRAL_ACCEPT=shared, under which the cap is exact',
  ]);
  // The default worker count (CPU x 4) is judged as well as a set one.
  assert.equal(rr({ CORRAL_MAX_CONNECTIONS: String(defaultWorkers(availableParallelism()) - 1) }).length, defaultWorkers(availableParallelism()) > 1 ? 1 : 0);
  assert.deepEqual(rr({ CORRAL_WORKERS: '64', CORRAL_MAX_CONNECTIONS: '64' }), [], 'one each: the cap holds');
  assert.deepEqual(rr({ CORRAL_WORKERS: '64', CORRAL_MAX_CONNECTIONS: '0' }), [], 'no cap');
  assert.deepEqual(loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_WORKERS: '64', CORRAL_MAX_CONNECTIONS: '32' } }).warnings, [], 'shared accept: the cap is exact');
});
