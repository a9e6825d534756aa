import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { timeoutStartSec, timeoutStopSec, watchdogSec } from '../../src/systemd/timeouts.js';
import { limitNoFile, NR_OPEN_DEFAULT, REFERENCE_UNIT_OPTIONS, renderUnit } from '../../src/systemd/unit.js';
import { hiddenPathWarnings, underPrivateTmp } from '../../src/systemd/hidden-paths.js';
import { broadDirWarnings, missingDirWarnings, privateTmpPaths, unwritablePaths } from '../../src/systemd/writable-paths.js';
import { KEEPER_STOP_MS, stopDeadline, stopStep } from '../../src/master/stop-sequence.js';
import { EXIT } from '../../src/errors.js';

const run = promisify(execFile);
// dist/test/unit -> repo root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const corral = join(root, 'bin', 'corral');
const dir = mkdtempSync(join(tmpdir(), 'corral-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Directive values of a unit text (comments and section headers dropped). */
function directives(text: string): Array<[string, string]> {
  return text
    .split('\n')
    .filter((l) => /^[A-Za-z]+=/.test(l))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}
function value(text: string, key: string): string | undefined {
  return directives(text).find(([k]) => k === key)?.[1];
}

const referenceFlags = [
  '--install-dir', REFERENCE_UNIT_OPTIONS.installDir,
  '--node', REFERENCE_UNIT_OPTIONS.nodePath,
  '--settings-file', REFERENCE_UNIT_OPTIONS.envFile,
  '--node-env-file', REFERENCE_UNIT_OPTIONS.processEnvFile,
  '--workers', String(REFERENCE_UNIT_OPTIONS.workers),
  '--worker-connections', String(REFERENCE_UNIT_OPTIONS.workerConnections),
  '--graceful-timeout', String(REFERENCE_UNIT_OPTIONS.gracefulTimeout),
  '--timeout', String(REFERENCE_UNIT_OPTIONS.timeout),
  '--port', String(REFERENCE_UNIT_OPTIONS.bindPort),
];

test('systemd/corral.service is exactly the generator output for the reference options', () => {
  const committed = readFileSync(join(root, 'systemd', 'corral.service'), 'utf8');
  assert.equal(renderUnit(REFERENCE_UNIT_OPTIONS), committed, 'regenerate with: corral systemd-unit <reference flags> > systemd/corral.service');
});

test('`corral systemd-unit` with the reference flags prints the committed unit', async () => {
  const { stdout } = await run(process.execPath, [corral, 'systemd-unit', ...referenceFlags], { cwd: dir });
  assert.equal(stdout, readFileSync(join(root, 'systemd', 'corral.service'), 'utf8'));
});

test('the unit has the service contract operators rely on', () => {
  const u = renderUnit(REFERENCE_UNIT_OPTIONS);
  assert.equal(value(u, 'Type'), 'notify');
  assert.equal(value(u, 'NotifyAccess'), 'exec');
  assert.equal(value(u, 'ExecStart'), '/usr/bin/node /opt/corral/bin/corral start');
  assert.deepEqual(
    directives(u).filter(([k]) => k === 'ExecReload').map(([, v]) => v),
    // One command, which judges the settings itself and exits 0 on the SIGTERM of a stop during
    // the reload: a `config --check` before it, killed by that SIGTERM, left the unit failed.
    ['/usr/bin/node /opt/corral/bin/corral reload --wait'],
  );
  assert.equal(value(u, 'KillMode'), 'mixed');
  assert.equal(value(u, 'Restart'), 'on-failure');
  assert.equal(value(u, 'RestartPreventExitStatus'), String(EXIT.CONFIG), 'a settings mistake is not retried');
  assert.ok(Number(value(u, 'TimeoutStopSec')) > REFERENCE_UNIT_OPTIONS.gracefulTimeout);
  // A reload's READY=1 waits for the old workers' drain: systemd must wait longer than that.
  assert.equal(Number(value(u, 'TimeoutStartSec')), 2 * (60 + REFERENCE_UNIT_OPTIONS.reloadSettle) + REFERENCE_UNIT_OPTIONS.gracefulTimeout, 'CORRAL_TIMEOUT 30: the 60 s a worker has to boot and its settle time, twice');
  assert.ok(Number(value(u, 'WatchdogSec')) > REFERENCE_UNIT_OPTIONS.timeout);
  assert.ok(Number(value(u, 'LimitNOFILE')) >= REFERENCE_UNIT_OPTIONS.workers * REFERENCE_UNIT_OPTIONS.workerConnections);
  assert.equal(value(u, 'User'), 'corral');
  assert.equal(value(u, 'Environment'), 'CORRAL_ENV_FILE=/etc/corral/corral.env');
  assert.equal(value(u, 'EnvironmentFile'), '-/etc/corral/node.env');
  for (const key of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp', 'ProtectKernelTunables', 'ProtectControlGroups', 'RestrictSUIDSGID', 'LockPersonality']) {
    assert.equal(value(u, key), 'yes', key);
  }
  assert.equal(value(u, 'ProtectSystem'), 'strict');
  assert.equal(value(u, 'StateDirectory'), 'corral');
  assert.equal(value(u, 'StateDirectoryMode'), '0700', 'the data dir holds login codes and the session secret');
  assert.equal(value(u, 'LogsDirectory'), 'corral');
  assert.equal(value(u, 'MemoryDenyWriteExecute'), undefined, 'V8 needs writable+executable pages');
  assert.equal(value(u, 'AmbientCapabilities'), undefined);
  assert.equal(value(u, 'CapabilityBoundingSet'), '');
});

test('LimitNOFILE covers workers x connections, with a floor and the kernel nr_open cap', () => {
  assert.equal(limitNoFile(8, 1000), 65_536);
  assert.equal(limitNoFile(64, 2000), 64 * 2000 + 4096 + 256 * 64);
  assert.equal(limitNoFile(512, 100_000), NR_OPEN_DEFAULT);
  assert.equal(timeoutStopSec(30), 45);
  assert.ok(watchdogSec(30) >= 2 * 30);
});

test("TimeoutStopSec outlasts the master's own longest stop: the drain, its exit margin and the keeper's time past the deadline", () => {
  for (const graceful of [0, 1, 30, 300]) {
    const deadline = stopDeadline(0, graceful * 1000, undefined);
    const lastKill = deadline + KEEPER_STOP_MS;
    // Past the last kill the master still reaps the children and exits: a few seconds are left for that.
    assert.ok(timeoutStopSec(graceful) * 1000 >= lastKill + 5000, `graceful ${graceful}s: ${timeoutStopSec(graceful)}s against ${lastKill} ms`);
    // At that instant the step kills whatever is left, keeper included (drained at the deadline at the latest).
    assert.equal(stopStep({ now: lastKill + 1, deadline, workersLeft: 0, keeperLeft: true, keeperDrainAt: deadline }).killKeeper, true);
  }
});

test('paths outside /var/lib and /var/log become ReadWritePaths; ports below 1024 get only CAP_NET_BIND_SERVICE', () => {
  const u = renderUnit({ ...REFERENCE_UNIT_OPTIONS, dataDir: '/srv/corral/data', logDir: '/srv/corral/logs', bindPort: 80 });
  const rw = directives(u).filter(([k]) => k === 'ReadWritePaths').map(([, v]) => v);
  assert.deepEqual(rw, ['/srv/corral/data', '/srv/corral/logs']);
  assert.equal(value(u, 'StateDirectory'), undefined);
  assert.equal(value(u, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(value(u, 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.equal(value(u, 'WorkingDirectory'), '/srv/corral/data');
});

test("an admin API on a port below 1024 gets CAP_NET_BIND_SERVICE too: without it the master started without its admin API and every systemctl reload failed", async () => {
  const u = renderUnit({ ...REFERENCE_UNIT_OPTIONS, bindPort: 8080, adminPort: 90 });
  assert.equal(value(u, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(value(u, 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
  assert.match(u, /CORRAL_ADMIN_BIND uses a port below 1024/);
  // Port 0 (any free port) is no privileged port.
  assert.equal(value(renderUnit({ ...REFERENCE_UNIT_OPTIONS, adminPort: 0 }), 'CapabilityBoundingSet'), '');
  const file = join(dir, 'admin-low.env');
  writeFileSync(file, 'CORRAL_BIND=127.0.0.1:8080\nCORRAL_ADMIN_BIND=127.0.0.1:90\n');
  const { stdout } = await run(process.execPath, [corral, 'systemd-unit', '--settings-file', file], { cwd: dir, env: { ...process.env, CORRAL_ENV_FILE: 'none' } });
  assert.equal(value(stdout, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
});

test('paths are written so that systemd reads them back: % escaped as %%, quoted where words split, $ kept literal in ExecStart', () => {
  const u = renderUnit({
    ...REFERENCE_UNIT_OPTIONS,
    installDir: '/opt/100% "corral" $HOME',
    nodePath: '/opt/node %h/bin/node',
    envFile: "/etc/corral's %i/corral.env",
    processEnvFile: '/etc/corral %n/node.env',
    dataDir: '/srv/data %h\\x',
    logDir: '/var/log/corral %t',
  });
  assert.equal(value(u, 'ExecStart'), '"/opt/node %%h/bin/node" "/opt/100%% \\"corral\\" $$HOME/bin/corral" start');
  assert.equal(value(u, 'Documentation'), 'file:/opt/100%%25%%20%%22corral%%22%%20$HOME/README.md');
  assert.equal(value(u, 'WorkingDirectory'), '/srv/data %%h\\x');
  assert.equal(value(u, 'Environment'), `"CORRAL_ENV_FILE=/etc/corral's %%i/corral.env"`);
  assert.equal(value(u, 'EnvironmentFile'), '-/etc/corral %%n/node.env');
  assert.deepEqual(
    directives(u).filter(([k]) => k === 'ReadWritePaths').map(([, v]) => v),
    ['"/srv/data %%h\\\\x"', '"/var/log/corral %%t"'],
    'a /var/log name that StateDirectory=/LogsDirectory= cannot take falls back to ReadWritePaths=',
  );
  assert.equal(value(u, 'LogsDirectory'), undefined);
  // Paths without such characters are written as they are (the reference unit).
  assert.equal(value(renderUnit(REFERENCE_UNIT_OPTIONS), 'ExecStart'), '/usr/bin/node /opt/corral/bin/corral start');
});

const noSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze is not installed';

/** Renders the unit with node linked into a dir named `nodeDirName` and installed in one named `installDirName`, and has systemd-analyze verify it. */
function assertVerifiesClean(nodeDirName: string, installDirName: string): void {
  const nodeDir = mkdtempSync(join(tmpdir(), nodeDirName));
  const odd = mkdtempSync(join(tmpdir(), installDirName));
  try {
    const nodePath = join(nodeDir, 'node');
    symlinkSync(process.execPath, nodePath);
    const unit = join(odd, 'corral.service');
    writeFileSync(unit, renderUnit({ ...REFERENCE_UNIT_OPTIONS, installDir: odd, nodePath }));
    const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
    assert.doesNotMatch(r.stderr, /is not executable/, r.stderr);
    assert.doesNotMatch(r.stderr, /corral\.service:\d+:/, `no line of the unit is rejected: ${r.stderr}`);
  } finally {
    rmSync(odd, { recursive: true, force: true });
    rmSync(nodeDir, { recursive: true, force: true });
  }
}

test('systemd-analyze verify finds the node binary of an ExecStart= whose path holds a space and %h', { skip: noSystemdAnalyze }, () => {
  assertVerifiesClean('corral unit %h ', 'corral unit %h ');
});

test("systemd-analyze verify runs the node of an ExecStart= whose path holds a $, and reads a Documentation= whose path holds a '", { skip: noSystemdAnalyze }, () => {
  // systemd expands $VAR in a command's arguments (so a literal $ there is $$), but not in the
  // executable's own path: written $$ there, the path named no file (203/EXEC at start). And
  // Documentation= splits on quotes: a ' left in the URL made the line invalid syntax.
  assertVerifiesClean('corral $node ', "corral $unit 'q ");
});

test('a --node path holding a quote or a backslash is refused: systemd runs no executable named so', () => {
  for (const nodePath of ['/opt/no"de/bin/node', "/opt/no'de/bin/node", '/opt/no\\de/bin/node']) {
    assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, nodePath }), /nodePath holds a quote or a backslash/);
  }
  const bad = spawnSync(process.execPath, [corral, 'systemd-unit', '--node', '/opt/no"de/node'], { cwd: dir, encoding: 'utf8' });
  assert.equal(bad.status, 64);
  assert.match(bad.stderr, /--node holds a quote or a backslash/);
});

test('bad options are refused with a usage error', async () => {
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, dataDir: 'relative' }), /absolute/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, user: 'Bad User' }), /user/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, installDir: '/opt/my\ncorral' }), /installDir contains a control character \(newline, tab\.\.\.\), which a systemd unit file cannot hold/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, dataDir: '/srv/data\t' }), /control character/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, logDir: '/srv/logs ' }), /logDir ends in whitespace, which systemd trims/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, dataDir: '/srv/w\\' }), /dataDir ends in a backslash, which systemd reads as a line continuation/);
  assert.throws(() => renderUnit({ ...REFERENCE_UNIT_OPTIONS, processEnvFile: '/etc/ne\\' }), /processEnvFile ends in a backslash/);
  const nl = spawnSync(process.execPath, [corral, 'systemd-unit', '--data-dir', '/srv/a\nb'], { cwd: dir, encoding: 'utf8' });
  assert.equal(nl.status, 64);
  assert.match(nl.stderr, /--data-dir contains a control character/);
  // The unit's refusals name the option the operator typed, not the unit's field.
  for (const [flag, value] of [['--user', ''], ['--group', 'Web Team']] as const) {
    const bad = spawnSync(process.execPath, [corral, 'systemd-unit', flag, value], { cwd: dir, encoding: 'utf8' });
    assert.equal(bad.status, 64);
    assert.match(bad.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] ${flag} must be a valid user/group name \\(lower-case letters, digits, _ and -, starting with a letter or _, at most 32 characters\\), got "${value}"`));
  }
  const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--workers', 'many'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 64);
  assert.match(r.stderr, /--workers \(CORRAL_WORKERS\) must be an integer from 1 to 512, got "many"/);
});

test('paths the unit hides from the service (ProtectHome=yes) are warned about', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-unit-home-'));
  try {
    const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--install-dir', '/home/ops/corral', '--node', '/root/.nvm/bin/node', '--data-dir', '/srv/corral'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: --install-dir \/home\/ops\/corral is under \/home, \/root or \/run\/user, which the unit's ProtectHome=yes hides/);
    assert.match(r.stderr, /warning: --node \/root\/\.nvm\/bin\/node is under/);
    assert.doesNotMatch(r.stderr, /--data-dir \/srv\/corral is under/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sizing comes from the settings file alone, as the service will see it (shell env ignored)', async () => {
  const file = join(dir, 'corral.env');
  writeFileSync(file, 'CORRAL_WORKERS=100\nCORRAL_WORKER_CONNECTIONS=5000\nCORRAL_GRACEFUL_TIMEOUT=60\nCORRAL_TIMEOUT=10\nCORRAL_RELOAD_SETTLE=5\nCORRAL_BIND=0.0.0.0:443\n');
  const { stdout } = await run(process.execPath, [corral, 'systemd-unit', '--settings-file', file, '--user', 'web', '--data-dir', '/var/lib/corral-web'], {
    cwd: dir,
    env: { ...process.env, CORRAL_WORKERS: '3', CORRAL_ENV_FILE: 'none' },
  });
  assert.equal(value(stdout, 'LimitNOFILE'), String(limitNoFile(100, 5000)));
  assert.equal(value(stdout, 'TimeoutStopSec'), '75');
  assert.equal(value(stdout, 'TimeoutStartSec'), '190', '2 x (60 s + CORRAL_RELOAD_SETTLE 5 s) + 60 s');
  assert.equal(value(stdout, 'WatchdogSec'), String(watchdogSec(10)));
  assert.equal(value(stdout, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
  assert.equal(value(stdout, 'User'), 'web');
  assert.equal(value(stdout, 'Group'), 'web');
  assert.equal(value(stdout, 'StateDirectory'), 'corral-web');
  assert.equal(value(stdout, 'Environment'), `CORRAL_ENV_FILE=${file}`);
  assert.equal(value(stdout, 'ExecStart'), `${process.execPath} ${corral} start`);
});

test('ExecReload= follows the reload (`corral reload --wait`) where the settings give a pidfile (the master records its admin address beside it, a port chosen at start too); without one it sends the HUP itself and says what that loses', async () => {
  const reloadCommands = async (settingsText: string) => {
    const file = join(dir, 'reload.env');
    writeFileSync(file, settingsText);
    const { stdout } = await run(process.execPath, [corral, 'systemd-unit', '--settings-file', file], { cwd: dir, env: { ...process.env, CORRAL_ENV_FILE: 'none' } });
    return { commands: directives(stdout).filter(([k]) => k === 'ExecReload').map(([, v]) => v), text: stdout };
  };
  const check = `${process.execPath} ${corral} config --check`;
  // No RELOADING=1 before it: reload --wait lasts the reload, and a failure before its HUP would
  // leave systemd waiting for a READY=1 that no reload sends.
  for (const settingsText of ['CORRAL_ADMIN_BIND=127.0.0.1:9191\n', 'CORRAL_ADMIN_BIND=127.0.0.1:0\n']) {
    assert.deepEqual((await reloadCommands(settingsText)).commands, [`${process.execPath} ${corral} reload --wait`], settingsText);
  }
  const { commands, text } = await reloadCommands('CORRAL_PIDFILE=\n');
  assert.deepEqual(commands, [check, '/bin/systemd-notify RELOADING=1', '/bin/kill -HUP $MAINPID']);
  assert.match(text, /a reload rolled back ends `systemctl reload` as a\n# success here/);
});

test('an invalid settings file fails like `corral start` would: exit 78 naming the setting', () => {
  const file = join(dir, 'bad.env');
  writeFileSync(file, 'CORRAL_WORKERS=zero\n');
  const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', file], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 78);
  assert.match(r.stderr, /CORRAL_WORKERS/);
});

test('systemd-analyze verify accepts the unit for this install', { skip: spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze is not installed' }, async () => {
  const unit = join(dir, 'corral.service');
  const { stdout } = await run(process.execPath, [corral, 'systemd-unit'], { cwd: dir });
  writeFileSync(unit, stdout);
  const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /corral\.service/, `no warning about the unit: ${r.stderr}`);
});

test('settings paths the unit leaves read-only (ProtectSystem=strict) are warned about, with the flag or value that fixes each', () => {
  const file = join(dir, 'elsewhere.env');
  writeFileSync(file, 'CORRAL_DATA_DIR=/srv/corral\nCORRAL_LOG_FILE=/srv/logs/corral.log\nCORRAL_PIDFILE=/var/run-elsewhere/corral.pid\n');
  const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', file], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const writable = '(/var/lib/corral, /var/log/corral, /run/corral, and /tmp, /var/tmp private to the service)';
  const warnings = settingWarnings(r.stderr);
  assert.deepEqual(warnings, [
    `warning: CORRAL_DATA_DIR=/srv/corral (in ${file}) is outside what the unit makes writable ${writable}, so the service would fail at start: pass --data-dir /srv/corral, or remove CORRAL_DATA_DIR from the settings file`,
    `warning: CORRAL_LOG_FILE=/srv/logs/corral.log (in ${file}) is outside what the unit makes writable ${writable}, so the service would fail at start: pass --log-dir /srv/logs, or set CORRAL_LOG_FILE=/var/log/corral/corral.log`,
    `warning: CORRAL_PIDFILE=/var/run-elsewhere/corral.pid (in ${file}) is outside what the unit makes writable ${writable}, so the service would fail at start: set CORRAL_PIDFILE=/run/corral/corral.pid`,
  ]);
  // Following the advice silences them; the README's deploy settings (relative data dir, pidfile in
  // /run/corral, log in /var/log/corral) raise none.
  const fixed = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', file, '--data-dir', '/srv/corral', '--log-dir', '/srv/logs'], { cwd: dir, encoding: 'utf8' });
  // (Those two directories are not on this host: that is warned about too, tested below.)
  assert.deepEqual(settingWarnings(fixed.stderr).filter((l) => !/ does not exist on this host: /.test(l)).map((l) => l.slice(0, 40)), ['warning: CORRAL_PIDFILE=/var/run-elsewhe']);
  const readme = join(dir, 'readme.env');
  writeFileSync(readme, 'CORRAL_LOG_FILE=/var/log/corral/corral.log\nCORRAL_PIDFILE=/run/corral/corral.pid\nCORRAL_DATA_DIR=/var/lib/corral\n');
  const quiet = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', readme], { cwd: dir, encoding: 'utf8' });
  assert.equal(quiet.status, 0, quiet.stderr);
  assert.deepEqual(settingWarnings(quiet.stderr), []);
  assert.equal(quiet.stderr.replace(tmpSettingsFileWarning, '').replace(checkoutInTmpWarning, ''), '');
});

/** The warning for a --settings-file in /tmp, as the test's own settings files are (tmpdir()). */
const tmpSettingsFileWarning = /^warning: --settings-file \S+ is under \/tmp or \/var\/tmp, .*\n/m;
/**
 * The warning for the default --install-dir, this checkout, when it is in /tmp (a fresh clone made
 * there): what it says of that location is not what these tests look at.
 */
const checkoutInTmpWarning = new RegExp(`^warning: --install-dir ${root.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is under /tmp or /var/tmp, .*\n`, 'm');
/** Warnings but the ones about where the test keeps its settings file and where this checkout is. */
function settingWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('warning: ') && !l.startsWith('warning: --settings-file ') && !checkoutInTmpWarning.test(`${l}\n`));
}

test('a --data-dir or --log-dir outside /var/lib and /var/log missing on this host is warned about with the command that creates it: systemd fails the start with 226/NAMESPACE before corral can say why', () => {
  // Not under /tmp (private to the service, warned about apart): a name no host has.
  const data = `/srv/corral-data-${process.pid}-${Date.now()}`;
  const logs = `/srv/corral-logs-${process.pid}-${Date.now()}`;
  const settings = join(dir, 'missing-dirs.env');
  writeFileSync(settings, 'CORRAL_WORKERS=2\n');
  const unit = (dataDir: string, logDir: string) =>
    spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', settings, '--data-dir', dataDir, '--log-dir', logDir, '--user', 'svc', '--group', 'svcgrp'], { cwd: dir, encoding: 'utf8' });
  const r = unit(data, logs);
  assert.equal(r.status, 0, 'a warning: the unit may be meant for another host, or the directories made next');
  const said = "does not exist on this host: systemd creates only the unit's directories under /var/lib and /var/log, and a missing ReadWritePaths= directory makes the service fail with status=226/NAMESPACE before corral runs (retried every 2 s): create it for the service's user:";
  assert.deepEqual(settingWarnings(r.stderr), [
    `warning: --data-dir ${data} ${said} install -d -m 0700 -o svc -g svcgrp ${data}`,
    `warning: --log-dir ${logs} ${said} install -d -m 0755 -o svc -g svcgrp ${logs}`,
  ]);
  assert.match(value(r.stdout, 'ReadWritePaths') ?? '', new RegExp(`^${data}$`));
  // Directories that exist: nothing to say. Those systemd creates (StateDirectory=, LogsDirectory=) never are.
  assert.deepEqual(settingWarnings(unit('/srv', '/opt').stderr).filter((w) => /does not exist/.test(w)), []);
  assert.deepEqual(settingWarnings(unit(`/var/lib${data}`, `/var/log${logs}`).stderr), []);
  // Under /tmp the PrivateTmp= warning says what matters; not this one as well.
  assert.doesNotMatch(unit(`/tmp${data}`, `/var/tmp${logs}`).stderr, /does not exist on this host/);
});

test('the command that creates a missing --data-dir or --log-dir is one a shell runs as meant: a path with a space, a quote or a $ is quoted', () => {
  // The unit quotes such paths for systemd (ReadWritePaths="/srv/my data"); pasted unquoted,
  // `install -d ... /srv/my data` made /srv/my and ./data, and the service still failed with 226/NAMESPACE.
  const [data, logs] = missingDirWarnings({ dataDir: '/srv/my data', logDir: "/srv/it's $HOME", user: 'corral', group: 'corral' }, () => false);
  assert.match(data ?? '', / install -d -m 0700 -o corral -g corral '\/srv\/my data'$/);
  assert.match(logs ?? '', / install -d -m 0755 -o corral -g corral '\/srv\/it'\\''s \$HOME'$/);
  const plain = missingDirWarnings({ dataDir: '/srv/corral', logDir: '/srv/corral-logs', user: 'corral', group: 'corral' }, () => false);
  assert.match(plain[0] ?? '', / install -d -m 0700 -o corral -g corral \/srv\/corral$/);
});

test('path options under /tmp or /var/tmp, private to the service (PrivateTmp=yes), are warned about with what breaks and where to move them; elsewhere, none', () => {
  const r = spawnSync(
    process.execPath,
    [corral, 'systemd-unit', '--settings-file', '/tmp/corral-nowhere/corral.env', '--install-dir', '/var/tmp/corral', '--node', '/tmp/node-v22/bin/node', '--node-env-file', '/tmp/node.env', '--data-dir', '/tmp/corral-data', '--log-dir', '/var/tmp/corral-logs'],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(r.status, 0, 'warnings, as for /home: the unit may be meant for another host, or the files about to move');
  const copy = "is under /tmp or /var/tmp, of which the unit's PrivateTmp=yes gives the service a private copy, empty at start and removed when it stops";
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('warning: ') && !/there is no/.test(l));
  assert.deepEqual(warnings, [
    `warning: --install-dir /var/tmp/corral ${copy}: the service would not find bin/corral there and could not start: install corral elsewhere, e.g. /opt/corral`,
    `warning: --node /tmp/node-v22/bin/node ${copy}: the service would not find node there and could not start: use a node elsewhere, e.g. /usr/bin/node`,
    `warning: --settings-file /tmp/corral-nowhere/corral.env ${copy}: the service would not find the file there and would exit 78 (CORRAL_ERR_ENV_FILE) at every start, not restarted: move it, e.g. to /etc/corral/corral.env, and pass that`,
    "warning: --node-env-file /tmp/node.env is under /tmp or /var/tmp: systemd reads it before the unit's PrivateTmp=yes applies, but old files there are cleaned (systemd-tmpfiles-clean, and /tmp often at boot), and the unit's EnvironmentFile=- then skips it without a word: move it, e.g. to /etc/corral/node.env, and pass that",
    `warning: --data-dir /tmp/corral-data ${copy}: the service would not find the directory there (its WorkingDirectory=), and what it keeps there (the write journal, the offline sheet, generated secrets) would be lost at every restart: use e.g. /var/lib/corral`,
    `warning: --log-dir /var/tmp/corral-logs ${copy}: the service would not find the directory there, its log files would be seen by no logrotate or tail -F outside it, and would be lost at every restart: use e.g. /var/log/corral`,
  ]);
  // The defaults (corral.pid, the data dir) the settings file does not set lie in --data-dir,
  // warned about above: nothing is said of them as if the file set them.
  assert.doesNotMatch(r.stderr, /^warning: CORRAL_/m);
  // Names that only begin like /tmp, and the reference paths, get none.
  const elsewhere = spawnSync(
    process.execPath,
    [corral, 'systemd-unit', '--settings-file', '/tmpfs/corral.env', '--install-dir', '/var/tmpl/corral', '--node', '/usr/bin/node', '--node-env-file', '/etc/corral/node.env', '--data-dir', '/srv/tmp/data', '--log-dir', '/var/log/corral'],
    { cwd: dir, encoding: 'utf8' },
  );
  assert.equal(elsewhere.status, 0, elsewhere.stderr);
  assert.doesNotMatch(elsewhere.stderr, /PrivateTmp|ProtectHome/);
  // The --node-env-file is read by systemd itself, before ProtectHome=yes applies: not warned about.
  assert.deepEqual(hiddenPathWarnings([['--node-env-file', '/home/ops/node.env']]), []);
  assert.equal(hiddenPathWarnings([['--settings-file', '/var/tmp/../tmp/corral.env']]).length, 1, 'normalized first');
  for (const path of ['/tmp', '/tmp/', '/var/tmp/x', '//tmp/x']) assert.ok(underPrivateTmp(path), path);
  for (const path of ['/tmpx', '/var/tmpx/y', '/srv/tmp', '/var/lib/tmp']) assert.ok(!underPrivateTmp(path), path);
});

test('CORRAL_PIDFILE, CORRAL_LOG_FILE and CORRAL_DATA_DIR under /tmp or /var/tmp, writable but private to the service, are warned about with what breaks', () => {
  // The reproduction: only /home was warned about, not the log file in the private /tmp.
  const file = join(dir, 'tmp-paths.env');
  writeFileSync(file, 'CORRAL_WORKERS=2\nCORRAL_LOG_FILE=/tmp/corral.log\nCORRAL_PIDFILE=/var/tmp/corral/corral.pid\nCORRAL_DATA_DIR=/tmp/corral-data\n');
  const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', file], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const priv = `(in ${file}) is under /tmp or /var/tmp, which the unit's PrivateTmp=yes makes private to the service, removed when it stops`;
  assert.deepEqual(settingWarnings(r.stderr), [
    `warning: CORRAL_DATA_DIR=/tmp/corral-data ${priv}: what corral keeps there (the write journal, the offline sheet, generated secrets) is lost at every restart: remove CORRAL_DATA_DIR from the settings file (the service then uses --data-dir /var/lib/corral), or set it outside /tmp`,
    `warning: CORRAL_LOG_FILE=/tmp/corral.log ${priv}: logrotate and tail -F outside the service never see the file, and it is lost at every restart: set CORRAL_LOG_FILE=/var/log/corral/corral.log`,
    `warning: CORRAL_PIDFILE=/var/tmp/corral/corral.pid ${priv}: \`corral stop\`, \`corral status\` and \`corral reload\` run outside the service never find it, nor the master: set CORRAL_PIDFILE=/run/corral/corral.pid`,
  ]);
  // Writable all the same: not also said to make the service fail at start.
  assert.deepEqual(unwritablePaths({ CORRAL_DATA_DIR: '/tmp/d', CORRAL_LOG_FILE: '/var/tmp/l/c.log', CORRAL_PIDFILE: '/tmp/c.pid' }, '/var/lib/corral', '/var/log/corral'), []);
  // The fixes point outside /tmp even when --data-dir or --log-dir are in it.
  const fixes = privateTmpPaths({ CORRAL_DATA_DIR: '/tmp/d', CORRAL_LOG_FILE: '/tmp/l/c.log', CORRAL_PIDFILE: undefined }, '/tmp/d', '/tmp/l').map((p) => p.fix);
  assert.deepEqual(fixes, ['set CORRAL_DATA_DIR=/var/lib/corral and pass --data-dir /var/lib/corral', 'set CORRAL_LOG_FILE=/var/log/corral/corral.log']);
  // Settings elsewhere raise none.
  assert.deepEqual(privateTmpPaths({ CORRAL_DATA_DIR: '/srv/tmp', CORRAL_LOG_FILE: '/var/log/corral/corral.log', CORRAL_PIDFILE: '/run/corral/corral.pid' }, '/var/lib/corral', '/var/log/corral'), []);
});

test('a --settings-file that is a directory is refused (exit 64), not taken for a file "not readable yet"; an --install-dir or --node missing here is warned about', () => {
  const r = spawnSync(process.execPath, [corral, 'systemd-unit', '--settings-file', dir], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 64, r.stderr);
  assert.match(r.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] --settings-file ${dir} is a directory: name the settings file itself \\(e\\.g\\. ${dir}/corral\\.env\\)`));
  assert.equal(r.stdout, '');
  const nodeEnv = spawnSync(process.execPath, [corral, 'systemd-unit', '--node-env-file', dir], { cwd: dir, encoding: 'utf8' });
  assert.equal(nodeEnv.status, 64, nodeEnv.stderr);
  assert.match(nodeEnv.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] --node-env-file ${dir} is a directory: name the file itself`));
  assert.equal(nodeEnv.stdout, '');
  const missing = spawnSync(process.execPath, [corral, 'systemd-unit', '--install-dir', join(dir, 'no-install'), '--node', join(dir, 'no-node')], { cwd: dir, encoding: 'utf8' });
  assert.equal(missing.status, 0, missing.stderr);
  assert.match(missing.stderr, new RegExp(`warning: --install-dir: there is no bin/corral at ${dir}/no-install/bin/corral on this host; the unit's ExecStart fails unless it exists on the host the unit is installed on`));
  assert.match(missing.stderr, new RegExp(`warning: --node: there is no node at ${dir}/no-node on this host`));
  const present = spawnSync(process.execPath, [corral, 'systemd-unit'], { cwd: dir, encoding: 'utf8' });
  assert.doesNotMatch(present.stderr, /there is no/, 'this install and this node exist');
});

test('an empty or relative path option is refused (exit 64) naming it, as is a --node here that is a directory or not executable', () => {
  const unit = (...args: string[]) => spawnSync(process.execPath, [corral, 'systemd-unit', ...args], { cwd: dir, encoding: 'utf8' });
  // resolve('') is the current directory: it became the node binary, the working directory...
  for (const flag of ['--node', '--install-dir', '--settings-file', '--node-env-file', '--data-dir', '--log-dir']) {
    const r = unit(flag, '');
    assert.equal(r.status, 64, `${flag} '': ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] ${flag} is empty: give an absolute path\n`));
    assert.equal(r.stdout, '', flag);
  }
  for (const [flag, directives] of [
    ['--node', 'ExecStart='],
    ['--install-dir', 'ExecStart= \\(its bin/corral\\)'],
    ['--settings-file', 'Environment=CORRAL_ENV_FILE='],
    ['--node-env-file', 'EnvironmentFile='],
    ['--data-dir', 'WorkingDirectory= and ReadWritePaths='],
    ['--log-dir', 'ReadWritePaths='],
  ] as const) {
    const r = unit(flag, 'relative/path');
    assert.equal(r.status, 64, `${flag} relative/path: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] ${flag} must be an absolute path, got "relative/path": it is written into ${directives}`));
    assert.equal(r.stdout, '', flag);
  }
  const directory = unit('--node', dirname(process.execPath));
  assert.equal(directory.status, 64, directory.stderr);
  assert.match(directory.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] --node ${dirname(process.execPath)} is not a file \\(a directory\\?\\): give the node binary itself`));
  const plain = join(dir, 'not-executable');
  writeFileSync(plain, '', { mode: 0o644 });
  const notExecutable = unit('--node', plain);
  assert.equal(notExecutable.status, 64, notExecutable.stderr);
  assert.match(notExecutable.stderr, new RegExp(`^corral systemd-unit: \\[CORRAL_ERR_USAGE\\] --node ${plain} is not executable`));
  // An executable file (a symlink to one, as /usr/bin/node often is) is taken.
  const linked = join(dir, 'bin-dir');
  mkdirSync(linked, { recursive: true });
  symlinkSync(process.execPath, join(linked, 'node'));
  const ok = unit('--node', join(linked, 'node'), '--data-dir', '/srv/corral/');
  assert.equal(ok.status, 0, ok.stderr);
  assert.equal(value(ok.stdout, 'ExecStart'), `${join(linked, 'node')} ${corral} start`);
  assert.equal(value(ok.stdout, 'WorkingDirectory'), '/srv/corral');
});

test('TimeoutStartSec covers a reload: the boot plus a drain of up to CORRAL_GRACEFUL_TIMEOUT (3600 at most)', () => {
  for (const graceful of [1, 30, 115, 600, 3600]) {
    assert.ok(timeoutStartSec(graceful, 30, 0) >= graceful + 120, `graceful ${graceful}`);
    assert.equal(value(renderUnit({ ...REFERENCE_UNIT_OPTIONS, gracefulTimeout: graceful }), 'TimeoutStartSec'), String(timeoutStartSec(graceful, REFERENCE_UNIT_OPTIONS.timeout, REFERENCE_UNIT_OPTIONS.reloadSettle)));
  }
});

test('TimeoutStartSec covers the boot a worker is given: CORRAL_TIMEOUT when it is above 60 s, twice', () => {
  // An app that loads in 160 s under CORRAL_TIMEOUT=200 was timed out at 150 s and restarted for good.
  assert.equal(timeoutStartSec(30, 30, 0), 150, '2 x 60 s + 30 s');
  assert.equal(timeoutStartSec(30, 200, 0), 430);
  assert.equal(value(renderUnit({ ...REFERENCE_UNIT_OPTIONS, timeout: 200, gracefulTimeout: 30, reloadSettle: 0 }), 'TimeoutStartSec'), '430');
});

test('TimeoutStartSec covers the settle time of a reload\'s new workers, the retry\'s too (CORRAL_RELOAD_SETTLE)', () => {
  assert.equal(timeoutStartSec(30, 30, 2), 154, 'the defaults: 2 x (60 s + 2 s) + 30 s');
  assert.equal(timeoutStartSec(30, 30, 60), 270);
  assert.equal(value(renderUnit({ ...REFERENCE_UNIT_OPTIONS, reloadSettle: 60 }), 'TimeoutStartSec'), '270');
});

test('the README\'s TimeoutStartSec row and `systemd-unit --help` say what the unit is sized from, CORRAL_RELOAD_SETTLE included', () => {
  // The README gave 2 x max(60 s, CORRAL_TIMEOUT) + CORRAL_GRACEFUL_TIMEOUT (150 s with the
  // defaults), while the unit (and `reload --wait`) use 154 s; --help left TimeoutStartSec out.
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const row = readme.split('\n').find((l) => l.startsWith('| `TimeoutStartSec` |'));
  assert.ok(row, 'the README has a TimeoutStartSec row');
  assert.match(row, /CORRAL_RELOAD_SETTLE/);
  assert.match(row, new RegExp(`${timeoutStartSec(30, 30, 2)} s with the defaults`));
  assert.match(readme, /Regenerate the unit after\s+changing [^.]*`CORRAL_RELOAD_SETTLE`/);
  const help = spawnSync(process.execPath, [corral, 'systemd-unit', '--help'], { encoding: 'utf8', env: { ...process.env, CORRAL_ENV_FILE: 'none' } }).stdout;
  for (const word of ['TimeoutStartSec', 'TimeoutStopSec', 'WatchdogSec', 'LimitNOFILE', 'CORRAL_RELOAD_SETTLE']) assert.ok(help.replace(/\s+/g, ' ').includes(word), `--help names ${word}`);
});

test('a --data-dir or --log-dir that is a shared directory of the host (/var/log, /var/lib, /) is a warning: all of it becomes writable', () => {
  assert.deepEqual(broadDirWarnings({ dataDir: '/var/lib/corral', logDir: '/var/log' }), [
    "--log-dir /var/log makes all of /var/log writable by the service (ReadWritePaths=/var/log), not a directory of corral's own: give it one, e.g. --log-dir /var/log/corral",
  ]);
  assert.equal(broadDirWarnings({ dataDir: '/', logDir: '/var/log/corral' })[0], "--data-dir / makes all of / writable by the service (ReadWritePaths=/), not a directory of corral's own: give it one, e.g. --data-dir /corral");
  assert.deepEqual(broadDirWarnings({ dataDir: '/srv/corral', logDir: '/var/log/corral' }), []);
});
