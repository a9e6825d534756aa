// `corral emulator` on a port it cannot listen on says how to go on, as corral's own bind does
// (src/config/bind-check.ts): the raw EADDRINUSE said what failed, not what to do.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

// dist/test/unit -> repo root
const corral = join(resolve(dirname(fileURLToPath(import.meta.url)), '../../..'), 'bin', 'corral');

test('`corral emulator` on a port in use exits 1 with CORRAL_ERR_LISTEN, saying to give another --port', async () => {
  const holder = createServer();
  await new Promise<void>((done) => holder.listen(0, '127.0.0.1', done));
  const { port } = holder.address() as AddressInfo;
  try {
    const child = spawn(process.execPath, [corral, 'emulator', '--port', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b));
    child.stderr.on('data', (b: Buffer) => (stderr += b));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const status = await new Promise<number | null>((done) => child.on('close', done));
    clearTimeout(timer);
    assert.equal(status, 1, stderr);
    assert.equal(stdout, '');
    assert.match(stderr, /^corral emulator: \[CORRAL_ERR_LISTEN\] the emulator cannot listen: listen EADDRINUSE/);
    assert.match(stderr, new RegExp(`another process listens on port ${port}; give another --port \\(--port 0 takes any free one`));
  } finally {
    holder.close();
  }
});
