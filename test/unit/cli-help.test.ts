import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../../src/cli/commands/index.js';

// The exit code is what scripts and systemd act on: every command's --help says which it uses.
test('every command\'s --help lists its exit codes, the usage error (64) among them', () => {
  for (const command of commands) {
    const at = command.help.indexOf('Exit codes');
    assert.ok(at >= 0, `corral ${command.name} --help has no "Exit codes"`);
    assert.match(command.help.slice(at), /\b64\b/, `corral ${command.name} --help does not say 64 (usage error)`);
  }
});

test('commands that read the settings say they exit 78 when the settings or CORRAL_ENV_FILE are refused', () => {
  for (const name of ['start', 'reload', 'stop', 'status', 'config', 'systemd-unit', 'recommend']) {
    const help = commands.find((c) => c.name === name)?.help ?? '';
    assert.match(help.slice(help.indexOf('Exit codes')), /\b78\b/, `corral ${name} --help does not say 78`);
  }
});

test('start\'s --help says it exits 1 when corral already runs, which it does', () => {
  const help = commands.find((c) => c.name === 'start')?.help ?? '';
  assert.match(help.slice(help.indexOf('Exit codes')), /\b1 not started: corral already runs \(CORRAL_ERR_ALREADY_RUNNING/);
});
