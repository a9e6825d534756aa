// `corral status` without a token, when what answers at the admin address is another corral master
// (this one's port was taken when it started): its help promises exit 1 for "answers for another
// master". With a token the stats' master.pid tells; without one, GET /api/admin/reload (no token
// needed) names its master_pid, and the health of the other master was shown as this one's, exit 0.

import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { statusCommand } from '../../src/cli/commands/status.js';
import { procStamp } from '../../src/master/proc-identity.js';

test('status without a token exits 1 when the admin API answers for another master, as with a token', async () => {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/api/admin/health') res.end(JSON.stringify({ status: 'ok', workers_ready: 2, workers_expected: 2 }));
    else if (req.url === '/api/admin/reload') res.end(JSON.stringify({ master_pid: 4242424, in_progress_generation: null, in_progress_bound_ms: null, queued: false, stopping: false, last: null }));
    else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'corral-status-other-'));
  const pidfile = join(dir, 'corral.pid');
  // This test process stands for the master: its pidfile and a start stamp that proves it, with the
  // admin URL it recorded (the other master holds that port).
  const stamp = procStamp(process.pid);
  assert.ok(stamp);
  writeFileSync(pidfile, `${process.pid}\n`);
  writeFileSync(`${pidfile}.start`, `${JSON.stringify({ pid: stamp.pid, start_ticks: stamp.startTicks, boot_id: stamp.bootId, graceful_timeout_s: 30, admin_url: `http://127.0.0.1:${port}` })}\n`);
  chmodSync(pidfile, 0o644);
  chmodSync(`${pidfile}.start`, 0o644);
  const saved = { ...process.env };
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  let code: number;
  try {
    process.env.CORRAL_ENV_FILE = 'none';
    process.env.CORRAL_PIDFILE = pidfile;
    // Port 0: nothing else is ever asked (the recorded address is).
    process.env.CORRAL_ADMIN_BIND = '127.0.0.1:0';
    delete process.env.CORRAL_ADMIN_TOKEN;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => (out.push(s), true)) as typeof process.stderr.write;
    code = await statusCommand.run([]);
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
    process.env = saved;
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(code, 1, `exit ${code}: ${out.join('')}`);
  assert.match(out.join(''), /CORRAL_ERR_ADMIN_OTHER_MASTER/);
});
