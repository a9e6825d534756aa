// A CLI whose own code has a file cut short (a disk that filled during a build or an upgrade, an
// interrupted copy) says which file and line, as a worker or keeper does (own-code-load.ts): the
// SyntaxError import() throws names neither, and `corral status` said only "Unexpected end of
// input", with no file to look at.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { commandModule, commands } from '../../src/cli/commands/index.js';
import { commandLoadFailure } from '../../src/cli/main.js';
import { copyInstall } from '../helpers/install-copy.js';

/**
 * Cuts `file` short after the first line past its middle that opens a block, so that it ends
 * mid-block, as a write cut short leaves it; returns the line node reports the end of input at.
 */
function cutShort(file: string): number {
  const lines = readFileSync(file, 'utf8').split('\n');
  const at = lines.findIndex((l, i) => i >= lines.length / 2 && l.trimEnd().endsWith('{'));
  assert.ok(at > 0, `a line that opens a block in the second half of ${file}`);
  const kept = lines.slice(0, at + 1);
  writeFileSync(file, `${kept.join('\n')}\n`);
  return kept.length + 1;
}

const status = commands.find((c) => c.name === 'status')!;

/** `corral status` in `install`: what it says, and its exit code. */
function statusIn(install: string): { status: number | null; stderr: string } {
  const run = spawnSync(process.execPath, [join(install, 'bin', 'corral'), 'status'], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });
  return { status: run.status, stderr: run.stderr };
}

for (const [what, cut] of [
  ["a command's module", ['cli', 'commands', 'status.js']],
  ["the CLI's entry (said by bin/corral, before any of the CLI loads)", ['cli', 'main.js']],
] as const) {
  test(`${what} cut short: the command says the file and line, with CORRAL_ERR_CODE_LOAD and how to fix it`, () => {
    const install = copyInstall({ prefix: 'corral-cli-cut-' });
    try {
      const file = join(install, 'dist', 'src', ...cut);
      const line = cutShort(file);
      const run = statusIn(install);
      const said = commandLoadFailure(status, new SyntaxError('Unexpected end of input'), `${file}:${line}`);
      assert.equal(run.stderr, said.stderr);
      assert.equal(run.status, said.exitCode);
      assert.match(run.stderr, /rebuilds dist\/, or reinstall corral\), run the command again\n$/);
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
}

test('the module that finds the place cut short too: the error is said without its place, the code and the fix still', () => {
  const install = copyInstall({ prefix: 'corral-cli-cut-' });
  try {
    cutShort(join(install, 'dist', 'src', 'cli', 'main.js'));
    cutShort(join(install, 'dist', 'src', 'own-code-load.js'));
    const run = statusIn(install);
    const said = commandLoadFailure(status, new SyntaxError('Unexpected end of input'));
    assert.equal(run.stderr, said.stderr);
    assert.equal(run.status, said.exitCode);
  } finally {
    rmSync(install, { recursive: true, force: true });
  }
});

test("each command's module is where a failure to load it is located (named as the command)", () => {
  for (const c of commands) assert.ok(existsSync(fileURLToPath(commandModule(c.name))), `${c.name}: ${commandModule(c.name).href}`);
});
