// An unknown option says what was meant: the command's own option (a typo, an abbreviation), or,
// for a command that reads the settings, the setting a flag (gunicorn's among them) names.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseFlags } from '../../src/cli/command.js';
import { startCommand } from '../../src/cli/commands/start.js';
import { settingForFlag } from '../../src/cli/flag-hints.js';
import { usageError } from '../helpers/usage-error.js';

describe('unknown options', () => {
  it('name the option meant: one within two edits, or the one an abbreviation starts', () => {
    const flags = { fast: { type: 'boolean' }, 'no-wait': { type: 'boolean' }, json: { type: 'boolean' } } as const;
    assert.throws(() => parseFlags(['--fats'], flags), usageError(/^Unknown option '--fats': did you mean --fast\?$/));
    assert.throws(() => parseFlags(['--nowait'], flags), usageError(/^Unknown option '--nowait': did you mean --no-wait\?$/));
    assert.throws(() => parseFlags(['--js'], flags), usageError(/^Unknown option '--js': did you mean --json\? \(options are spelled out in full\)$/));
    assert.throws(() => parseFlags(['--sideways'], flags), usageError(/^Unknown option '--sideways'$/));
    // The command's own option given one dash: getopt reads `-f` (then `a`, `s`, `t`), and "Unknown
    // option '-f'" alone did not say that `--fast` was meant. Whether the command reads the settings or not.
    for (const reads of [{}, { readsSettings: true }]) {
      assert.throws(() => parseFlags(['-fast'], flags, reads), usageError(/^Unknown option '-f': did you mean --fast\?$/));
      assert.throws(() => parseFlags(['-no-wait'], flags, reads), usageError(/^Unknown option '-n': did you mean --no-wait\?$/));
      assert.throws(() => parseFlags(['-JSON'], flags, reads), usageError(/^Unknown option '-J': did you mean --json\?$/));
    }
    // A short flag that is no word of the command's stays as it was.
    assert.throws(() => parseFlags(['-x'], flags), usageError(/^Unknown option '-x'$/));
  });

  it("name the setting a flag spells, with the value given, where the command reads the settings (gunicorn's flags too)", () => {
    const reads = { readsSettings: true };
    assert.throws(() => parseFlags(['--workers', '8'], {}, reads), usageError(/^Unknown option '--workers': corral takes its settings from the environment or its settings file \(\.env, or CORRAL_ENV_FILE\), not from options: set CORRAL_WORKERS=8 there/));
    assert.throws(() => parseFlags(['-b', '0.0.0.0:8000'], {}, reads), usageError(/set CORRAL_BIND=0\.0\.0\.0:8000 there/));
    // As gunicorn takes them (getopt): the value attached to a short flag. It said "set CORRAL_WORKERS there", the 4 lost.
    assert.throws(() => parseFlags(['-w4'], {}, reads), usageError(/set CORRAL_WORKERS=4 there/));
    assert.throws(() => parseFlags(['-b0.0.0.0:8000'], {}, reads), usageError(/set CORRAL_BIND=0\.0\.0\.0:8000 there/));
    assert.throws(() => parseFlags(['--sheet-id=1AbC'], {}, reads), usageError(/set SHEET_ID=1AbC there/));
    assert.throws(() => parseFlags(['--max-requests'], {}, reads), usageError(/set CORRAL_MAX_REQUESTS there/));
    assert.throws(() => parseFlags(['--daemon'], {}, reads), usageError(/corral runs in the foreground: run it as a service under systemd/));
    assert.throws(() => parseFlags(['-c', '/etc/corral/corral.env'], {}, reads), usageError(/the settings file is named by the environment: CORRAL_ENV_FILE=\/etc\/corral\/corral\.env/));
    assert.throws(() => parseFlags(['-p', '/run/corral.pid'], {}, reads), usageError(/set CORRAL_PIDFILE=\/run\/corral\.pid there/));
    // Flags with no setting of their own say what corral does instead; "Unknown option" alone left
    // an operator used to gunicorn (or another server's --port) guessing.
    // The other half is the operator's to give: filled in with the default's 0.0.0.0, `--port 9000`
    // told a settings file binding 127.0.0.1 behind a proxy to serve every interface.
    assert.throws(() => parseFlags(['--port', '8000'], {}, reads), usageError(/^Unknown option '--port': corral takes host and port in one setting, .*: set CORRAL_BIND=HOST:8000 there, HOST the address to serve on \(127\.0\.0\.1 for this host alone, 0\.0\.0\.0 for every interface\) \(`corral config` shows the one in force; the default is 0\.0\.0\.0:8080\)$/));
    assert.throws(() => parseFlags(['--host=::1'], {}, reads), usageError(/set CORRAL_BIND='\[::1\]:PORT' there, PORT the port to serve on \(/));
    // Given with its port, or in brackets, it is not bracketed again (`[0.0.0.0:9000]:PORT`, `[[::1]]:PORT`).
    assert.throws(() => parseFlags(['--host', '0.0.0.0:9000'], {}, reads), usageError(/set CORRAL_BIND=0\.0\.0\.0:9000 there \(/));
    assert.throws(() => parseFlags(['--host', '[::1]'], {}, reads), usageError(/set CORRAL_BIND='\[::1\]:PORT' there/));
    assert.throws(() => parseFlags(['--host=[::1]:9000'], {}, reads), usageError(/set CORRAL_BIND='\[::1\]:9000' there \(/));
    assert.throws(() => parseFlags(['--port'], {}, reads), usageError(/set CORRAL_BIND=HOST:PORT there/));
    for (const flag of ['--threads=4', '-k', '--worker-class=gevent']) assert.throws(() => parseFlags([flag], {}, reads), usageError(/: corral's workers are asynchronous, .*CORRAL_WORKERS sets the processes, CORRAL_WORKER_CONNECTIONS the connections each takes$/));
    assert.throws(() => parseFlags(['--user', 'corral'], {}, reads), usageError(/User= and Group= in the unit/));
    assert.throws(() => parseFlags(['--chdir', '/srv/app'], {}, reads), usageError(/WorkingDirectory= in the unit/));
    assert.throws(() => parseFlags(['--reload'], {}, reads), usageError(/corral does not watch files: `corral reload` \(SIGHUP, `systemctl reload corral`\)/));
    assert.throws(() => parseFlags(['--preload'], {}, reads), usageError(/each worker loads the app itself/));
    // gunicorn's per-line and per-header limits have no setting of their own: the one that stands in.
    assert.throws(() => parseFlags(['--max-requests-jitter', '50'], {}, reads), usageError(/set CORRAL_MAX_REQUESTS_JITTER=50 there/));
    assert.throws(() => parseFlags(['--limit-request-fields', '200'], {}, reads), usageError(/set CORRAL_LIMIT_REQUEST_FIELDS=200 there/));
    for (const flag of ['--limit-request-line=8190', '--limit-request-field_size=8190', '--limit-request-field-size=8190']) {
      assert.throws(() => parseFlags([flag], {}, reads), usageError(/: corral has no limit of the request line or of one header of its own: CORRAL_LIMIT_REQUEST_HEADER_BYTES \(default 16384\) bounds the request line and headers together/));
    }
    // A long flag's case is no part of its name; a short one's is (gunicorn's -w is no -W).
    assert.throws(() => parseFlags(['--Port', '8000'], {}, reads), usageError(/^Unknown option '--Port': corral takes host and port in one setting, .*: set CORRAL_BIND=HOST:8000 there/));
    assert.throws(() => parseFlags(['--WORKERS=8'], {}, reads), usageError(/set CORRAL_WORKERS=8 there/));
    assert.throws(() => parseFlags(['--Daemon'], {}, reads), usageError(/corral runs in the foreground/));
    assert.throws(() => parseFlags(['-W', '4'], {}, reads), usageError(/^Unknown option '-W'$/));
    // A long flag given one dash, as Go's flags take them: getopt read `-p` with `ort`, and the
    // hint said "set CORRAL_PIDFILE=ort".
    assert.throws(() => parseFlags(['-port', '8000'], {}, reads), usageError(/^Unknown option '-p': corral takes host and port in one setting, .*set CORRAL_BIND=HOST:8000 there/));
    assert.throws(() => parseFlags(['-workers=8'], {}, reads), usageError(/^Unknown option '-w': .*set CORRAL_WORKERS=8 there/));
    assert.throws(() => parseFlags(['-daemon'], {}, reads), usageError(/^Unknown option '-d': corral runs in the foreground/));
    // A short flag with its value attached stays one (gunicorn's -w4, -b0.0.0.0:8000 above).
    assert.throws(() => parseFlags(['-pfile.pid'], {}, reads), usageError(/set CORRAL_PIDFILE=file\.pid there/));
    // A name inherited by every object is no flag of gunicorn's.
    assert.throws(() => parseFlags(['--constructor'], {}, reads), usageError(/^Unknown option '--constructor'$/));
    // Not for a command whose options are its own (loadtest, emulator): CORRAL_WORKERS is not theirs.
    assert.throws(() => parseFlags(['--workers', '8'], {}), usageError(/^Unknown option '--workers'$/));
  });

  it("say what reload and stop do about a --timeout, not to set CORRAL_TIMEOUT (the workers' heartbeat timeout)", async () => {
    for (const [command, said] of [
      ['reload', /^Unknown option '--timeout': reload takes no timeout: --wait waits as long as the reload makes progress within its bound, as systemd does: at first the unit's TimeoutStartSec .*renewed by the master at each step .*`timeout 60 corral reload --wait` \(CORRAL_TIMEOUT is the workers' heartbeat timeout, not this wait\)$/],
      ['stop', /^Unknown option '--timeout': stop takes no timeout: it waits for the master to exit, at most its CORRAL_GRACEFUL_TIMEOUT plus 10 s; .*\(CORRAL_TIMEOUT is the workers' heartbeat timeout, not this wait\)$/],
    ] as const) {
      const cmd = (await import(`../../src/cli/commands/${command}.js`)) as Record<string, { run(argv: string[]): Promise<number> }>;
      const run = Object.values(cmd).find((c) => typeof c?.run === 'function');
      await assert.rejects(() => (run as { run(argv: string[]): Promise<number> }).run(['--timeout', '5']), usageError(said));
    }
    // start takes its settings from the environment: there, gunicorn's --timeout is CORRAL_TIMEOUT.
    assert.throws(() => parseFlags(['--timeout', '5'], {}, { readsSettings: true }), usageError(/set CORRAL_TIMEOUT=5 there/));
  });

  it("say of stop's --graceful-timeout that the master drains by the timeout it started or last reloaded with, so the file's needs a reload", async () => {
    const { stopCommand } = await import('../../src/cli/commands/stop.js');
    const said = /^Unknown option '--graceful[-_]timeout': stop takes no graceful timeout: the master lets requests in flight finish by the CORRAL_GRACEFUL_TIMEOUT it started or last reloaded with, .*set CORRAL_GRACEFUL_TIMEOUT=60 in the settings file \(\.env, or CORRAL_ENV_FILE\), run `corral reload`, then `corral stop` \(an edit alone changes nothing until a reload applies it/;
    for (const argv of [['--graceful-timeout', '60'], ['--graceful_timeout=60']]) {
      await assert.rejects(() => stopCommand.run(argv), usageError(said), JSON.stringify(argv));
    }
    // Without a value the assignment names the setting alone.
    await assert.rejects(() => stopCommand.run(['--graceful-timeout']), usageError(/set CORRAL_GRACEFUL_TIMEOUT in the settings file/));
    // reload does apply the file's: there the plain hint is true.
    const { reloadCommand } = await import('../../src/cli/commands/reload.js');
    await assert.rejects(() => reloadCommand.run(['--graceful-timeout', '60']), usageError(/: corral takes its settings from the environment or its settings file .*: set CORRAL_GRACEFUL_TIMEOUT=60 there/));
  });

  it("say of an app given to start as an argument (gunicorn's `gunicorn app:app`) that the app is CORRAL_APP", async () => {
    // "does not take positional arguments" alone left an operator with an app file to serve
    // guessing how corral is told of it.
    await assert.rejects(startCommand.run(['./app.mjs']), usageError(/^Unexpected argument '\.\/app\.mjs'.*: the app corral serves is the setting CORRAL_APP, in the environment or the settings file \(\.env, or CORRAL_ENV_FILE\): set CORRAL_APP=\.\/app\.mjs there \(unset: the bundled app\)$/));
    // A file named alone is written with ./, as CORRAL_APP reads a bare name as a package.
    await assert.rejects(startCommand.run(['server.js']), usageError(/set CORRAL_APP=\.\/server\.js there/));
    await assert.rejects(startCommand.run(['/srv/app/index.mjs']), usageError(/set CORRAL_APP=\/srv\/app\/index\.mjs there/));
    // gunicorn's module:variable is Python's: no value to offer, only the setting.
    await assert.rejects(startCommand.run(['app:app']), usageError(/: the app corral serves is the setting CORRAL_APP, .*: set CORRAL_APP there to the app's module \(a file as \.\/app\.mjs, exporting createApp or a default request listener; unset: the bundled app\)$/));
    // Other commands' arguments are not apps.
    assert.throws(() => parseFlags(['extra'], {}, { readsSettings: true }), usageError(/^Unexpected argument 'extra'\. This command does not take positional arguments$/));
  });

  it('say how to quote a list typed with spaces, and name an option left without its value', () => {
    const flags = { steps: { type: 'string' }, mix: { type: 'string' }, profile: { type: 'string' }, out: { type: 'string' } } as const;
    assert.throws(() => parseFlags(['--steps', '5,', '10,', '25'], flags), usageError(/^Unexpected argument '10,'.*: a list with spaces after its commas is one argument only in quotes: --steps "5, 10, 25"$/));
    assert.throws(() => parseFlags(['--mix', 'read=0.6,', 'write=0.4', '--out', 'x'], flags), usageError(/: --mix "read=0\.6, write=0\.4"$/));
    assert.throws(() => parseFlags(['--profile', '--out', 'x'], flags), usageError(/^Option '--profile' needs a value, and what follows it, '--out', is an option: give --profile its value \(one that starts with a dash as --profile=-x\)$/));
    assert.throws(() => parseFlags(['--out'], flags), usageError(/^Option '--out' needs a value, and none follows it$/));
  });

  it('never echo a secret given as a flag, and hide a proxy URL\'s password', () => {
    const reads = { readsSettings: true };
    assert.throws(
      () => parseFlags(['--admin-token', 'hunter2-hunter2-hunter2'], {}, reads),
      (err: Error) => !err.message.includes('hunter2') && /set CORRAL_ADMIN_TOKEN=<the value given, not shown: a secret> there/.test(err.message),
    );
    assert.throws(
      () => parseFlags(['--https-proxy=http://me:pa55word@proxy:3128'], {}, reads),
      (err: Error) => !err.message.includes('pa55word') && /set HTTPS_PROXY=/.test(err.message),
    );
  });

  it('map the flags of gunicorn and the settings\' own names to settings, and nothing else', () => {
    assert.equal(settingForFlag('keep-alive'), 'CORRAL_KEEPALIVE');
    assert.equal(settingForFlag('graceful-timeout'), 'CORRAL_GRACEFUL_TIMEOUT');
    assert.equal(settingForFlag('pid'), 'CORRAL_PIDFILE');
    assert.equal(settingForFlag('access-logfile'), 'CORRAL_ACCESS_LOG');
    assert.equal(settingForFlag('w'), 'CORRAL_WORKERS');
    assert.equal(settingForFlag('redis-url'), 'REDIS_URL');
    assert.equal(settingForFlag('sideways'), undefined);
    assert.equal(settingForFlag('x'), undefined);
  });
});
