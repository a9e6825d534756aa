// A flush before exit on a stdout whose reader stays open and takes nothing (a stopped pager, a
// `tee` blocked on its own output, a stalled journald): sonic-boom retries EAGAIN 100 ms apart
// for ever, and the master hung in its exit, pidfile removed, deaf to TERM. The flush now gives
// up after FLUSH_STALL_MS without progress, and the process exits.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FLUSH_STALL_MS } from '../../src/log/bounded-flush.js';
import { REPO_ROOT } from '../helpers/corral.js';

const FIXTURE = join(REPO_ROOT, 'test', 'fixtures', 'log-stalled-reader.mjs');
const LOGGER = pathToFileURL(fileURLToPath(new URL('../../src/log/logger.js', import.meta.url))).href;

test('a flush before exit whose stdout reader takes nothing gives up after FLUSH_STALL_MS, and the process exits', async () => {
  const child = spawn(process.execPath, [FIXTURE, LOGGER], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, JOURNAL_STREAM: '' } });
  // Never read: the pipe fills and stays full.
  child.stdout.pause();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const timer = setTimeout(() => child.kill('SIGKILL'), FLUSH_STALL_MS + 10_000);
  const [code, signal] = await exited;
  clearTimeout(timer);
  child.stdout.destroy();
  assert.equal(signal, null, `still flushing ${FLUSH_STALL_MS + 10_000} ms on (killed); stderr:\n${stderr}`);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /flushed/);
  // What could not be written is said where it can still be read.
  assert.match(stderr, /"event":"log.write_failed".*EAGAIN/);
});
