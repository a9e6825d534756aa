// A worker or keeper whose own code does not load because a file of it does not parse (half written
// by an upgrade in place) says which file and line: a SyntaxError caught from import() names
// neither (node prints them only for one left uncaught), and the master's boot-failure line said
// "Unexpected token ';'" with no file to look at.

import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { locateSyntaxError } from '../../src/own-code-load.js';
import { copyInstall } from '../helpers/install-copy.js';

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Forks `entry` as the master forks a child; resolves with its boot-failed report and exit code. */
async function bootOf(entry: string): Promise<{ report: Record<string, unknown> | undefined; code: number | null; stderr: string }> {
  const child = fork(entry, [], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  let report: Record<string, unknown> | undefined;
  child.on('message', (m) => {
    if ((m as { type?: unknown }).type === 'boot-failed') report ??= m as Record<string, unknown>;
  });
  const bound = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(bound);
  return { report, code, stderr };
}

for (const [role, entry, broken] of [
  ['keeper', ['sheets', 'keeper-entry.js'], ['sheets', 'keeper', 'keeper.js']],
  ['worker', ['worker', 'entry.js'], ['worker', 'main.js']],
] as const) {
  test(`a ${role} whose code has a file that does not parse says the file and line, to the master and on its stderr`, async () => {
    const install = copyInstall();
    try {
      const file = join(install, 'dist', 'src', ...broken);
      const line = readFileSync(file, 'utf8').split('\n').length + 1;
      appendFileSync(file, '\nexport const cut = ;\n');
      const { report, code, stderr } = await bootOf(join(install, 'dist', 'src', ...entry));
      assert.equal(code, 1);
      assert.equal(report?.code, 'CORRAL_ERR_CODE_LOAD', JSON.stringify(report));
      assert.match(String(report?.message), new RegExp(`^corral's own code could not be loaded in a new ${role} \\(Unexpected token ';' in ${escaped(file)}:${line}\\): its files changed under the running corral`));
      // Node's own report, with the source line, is the stack the master logs and what stderr shows.
      assert.match(String(report?.stack), new RegExp(`^file://${escaped(file)}:${line}\\nexport const cut = ;\\n`));
      assert.match(stderr, /export const cut = ;\n\s*\^\n\nSyntaxError: Unexpected token ';'/);
    } finally {
      rmSync(install, { recursive: true, force: true });
    }
  });
}

test('locating a syntax error runs none of the modules: one imported at run time is not located, and what imported it ran once, in the process that failed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-own-code-'));
  try {
    const ran = join(dir, 'ran.txt');
    writeFileSync(join(dir, 'bad.mjs'), 'export const cut = ;\n');
    writeFileSync(join(dir, 'static.mjs'), `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(ran)}, 'static\\n');\nexport { cut } from './bad.mjs';\n`);
    writeFileSync(join(dir, 'dynamic.mjs'), `import { appendFileSync } from 'node:fs';\nappendFileSync(${JSON.stringify(ran)}, 'dynamic\\n');\nawait import('./bad.mjs');\n`);
    const failure = async (name: string) => {
      const url = pathToFileURL(join(dir, name));
      const err = await import(url.href).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof SyntaxError);
      return locateSyntaxError(url, err);
    };
    const located = await failure('static.mjs');
    assert.equal(located?.place, `${join(dir, 'bad.mjs')}:1`);
    assert.equal(await failure('dynamic.mjs'), undefined);
    assert.equal(readFileSync(ran, 'utf8'), 'dynamic\n', 'only the import that failed ran a module: the one that imports at run time');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
