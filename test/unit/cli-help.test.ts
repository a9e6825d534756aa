import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Command } from '../../src/cli/command.js';
import { commands } from '../../src/cli/commands/index.js';

const loaded = (): Promise<Command[]> => Promise.all(commands.map((c) => c.load()));
const helpOf = async (name: string): Promise<string> => (await commands.find((c) => c.name === name)?.load())?.help ?? '';

test('each listed command loads the command of its name', async () => {
  assert.deepEqual((await loaded()).map((c) => c.name), commands.map((c) => c.name));
});

// The exit code is what scripts and systemd act on: every command's --help says which it uses,
// in its last paragraph, as the README says (`corral emulator --help` ended with its HTTP controls).
test('every command\'s --help ends with its exit codes, the usage error (64) among them', async () => {
  for (const command of await loaded()) {
    const at = command.help.indexOf('Exit codes');
    assert.ok(at >= 0, `corral ${command.name} --help has no "Exit codes"`);
    assert.match(command.help.slice(at), /\b64\b/, `corral ${command.name} --help does not say 64 (usage error)`);
    assert.doesNotMatch(command.help.slice(at), /\n\s*\n/, `corral ${command.name} --help goes on after its exit codes`);
  }
});

test('commands that read the settings say they exit 78 when the settings or CORRAL_ENV_FILE are refused', async () => {
  for (const name of ['start', 'reload', 'stop', 'status', 'config', 'systemd-unit', 'recommend']) {
    const help = await helpOf(name);
    assert.match(help.slice(help.indexOf('Exit codes')), /\b78\b/, `corral ${name} --help does not say 78`);
  }
});

test('start\'s --help says it exits 1 when corral already runs, which it does', async () => {
  const help = await helpOf('start');
  assert.match(help.slice(help.indexOf('Exit codes')), /\b1 not started: corral already runs \(CORRAL_ERR_ALREADY_RUNNING/);
});

// reload --wait refuses (64, nothing signalled) a port it cannot know: CORRAL_ADMIN_BIND's port 0
// is chosen at start, and a master that recorded no address beside its pidfile leaves it unknown.
test("reload's --help says --wait exits 64 when the admin API's port was chosen at start and the master recorded no address", async () => {
  const help = (await helpOf('reload')).replace(/\s+/g, ' ');
  assert.match(help.slice(help.indexOf('Exit codes')), /\b64 an unknown option, or with --wait CORRAL_ADMIN_BIND's port 0 \(a port chosen at start\) when the master recorded no admin address beside the pidfile/);
});
