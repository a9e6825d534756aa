// The master's signals before its arbiter exists (signal-intents.ts), in a real process sent real
// signals: each is recorded and handed over in order once the arbiter takes them; a second stop
// before then exits at once, as Ctrl-C twice must, whatever holds the start up.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { REPO_ROOT } from '../helpers/corral.js';

const MODULE = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'master', 'signal-intents.js')).href;

/**
 * A process that listens as `corral start` does, says "listening", and hands what it recorded to
 * a recorder that prints each intent once it reads "deliver" on stdin (the arbiter made).
 */
function startListener() {
  const script = `
    const { listenForSignalIntents } = await import(${JSON.stringify(MODULE)});
    const intents = listenForSignalIntents();
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (d) => {
      if (d.includes('deliver')) intents.deliverTo((i) => process.stdout.write('intent ' + i + '\\n'));
      if (d.includes('end')) process.exit(0);
    });
    process.stdout.write('listening\\n');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const until = async (text: string) => {
    while (!out.includes(text)) await once(child.stdout, 'data');
  };
  return { child, until, out: () => out, err: () => err };
}

test('signals before the arbiter exists are recorded, not met by their default action, and handed over once it does', async () => {
  const p = startListener();
  await p.until('listening');
  // SIGHUP's default action would end the process; SIGUSR1's would open the V8 inspector.
  for (const s of ['SIGHUP', 'SIGUSR1', 'SIGTTIN', 'SIGINT'] as const) p.child.kill(s);
  p.child.stdin.write('deliver\n');
  // Handled before the delivery or after it, each is printed once the recorder takes them (the
  // kernel delivers pending signals of different kinds by number, not in the order sent).
  const expected = ['intent reload', 'intent reopen-logs', 'intent stop', 'intent ttin'];
  const intents = () => p.out().trim().split('\n').slice(1).sort();
  while (intents().length < expected.length && p.child.exitCode === null) await Promise.race([once(p.child.stdout, 'data'), once(p.child, 'exit')]);
  assert.deepEqual(intents(), expected, `stderr: ${p.err()}`);
  assert.doesNotMatch(p.err(), /Debugger listening/);
  p.child.stdin.write('end\n');
  const [code] = (await once(p.child, 'exit')) as [number | null];
  assert.equal(code, 0);
});

test('a second stop before the arbiter exists exits at once, with the signal exit code, and says why', async () => {
  const p = startListener();
  await p.until('listening');
  // The first is recorded for the arbiter (above); whichever the process handles second ends it.
  p.child.kill('SIGINT');
  p.child.kill('SIGTERM');
  const [code] = (await once(p.child, 'exit')) as [number | null];
  assert.ok(code === 128 + 2 || code === 128 + 15, `exit ${code}`);
  assert.match(p.err(), new RegExp(`^corral: ${code === 130 ? 'SIGINT' : 'SIGTERM'} again while starting: exiting now, before any worker was started$`, 'm'));
});
