import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { REPO_ROOT } from '../helpers/corral.js';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'log-then-flush.mjs');
const LOGGER = pathToFileURL(fileURLToPath(new URL('../../src/log/logger.js', import.meta.url))).href;

it('a flush before exit that meets a closed stdout pipe returns, and the process exits (it retried the write forever, 100 ms apart)', async () => {
  const child = spawn(process.execPath, [FIXTURE, LOGGER], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', () => stderr.includes('ready\n') && resolve());
    child.once('exit', () => reject(new Error(`exited before it was ready: ${stderr}`)));
  });
  // The reader goes away (`corral start | head` once head has its lines; a journald restart).
  child.stdout.destroy();
  child.stdin.write('go\n');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  assert.equal(signal, null, `still flushing after 10 s (killed); stderr:\n${stderr}`);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /flushed/);
  // The lines the pipe could not take are said lost where they can still be read.
  assert.match(stderr, /"event":"log.write_failed".*EPIPE/);
  // Said of stdout, not of a CORRAL_LOG_FILE there is none of.
  assert.match(stderr, /"msg":"cannot write the log to stdout \(CORRAL_LOG_FILE is unset\): .*EPIPE.*; log lines are dropped until stdout can be written again/);
});
