import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { loadSettings } from '../../src/config/load.js';
import { createLogger } from '../../src/log/logger.js';
import { createWorkerServer, type WorkerServer } from '../../src/worker/server.js';

/** One request on a new connection: its status line. */
function statusOf(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write('GET /now HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.indexOf('\r\n');
      if (line === -1) return;
      resolve(out.slice(0, line));
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('connection cap while the master says the host is FULL', () => {
  let worker: WorkerServer;
  let port: number;
  let held: Socket[];
  /** Answers of the /hold requests, released by the test. */
  let holding: ServerResponse[];

  beforeEach(async () => {
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    held = [];
    holding = [];
    worker = createWorkerServer(
      (req, res) => {
        if (req.url === '/hold') holding.push(res);
        else res.end('served');
      },
      { settings, logger, accessLogger: undefined, workerId: 1, generation: 1, perWorkerCap: 3, onServed: () => undefined },
    );
    port = (await worker.listen()).port;
  });
  afterEach(async () => {
    for (const s of held) s.destroy();
    await worker.drain(100);
  });

  /** Opens `n` connections whose requests the app holds, and waits until it has them all. */
  async function hold(n: number): Promise<void> {
    const before = holding.length;
    for (let i = 0; i < n; i++) {
      const s = connect(port, '127.0.0.1', () => s.write('GET /hold HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
      s.on('error', () => undefined);
      held.push(s);
    }
    while (holding.length < before + n) await new Promise((r) => setTimeout(r, 5));
  }

  it('serves a new connection in a slot this worker freed itself, without waiting for the master', async () => {
    await hold(3);
    worker.cap.setHostFull(true, 3, 3);
    assert.match(await statusOf(port), / 503 /);
    // One of this worker's connections ends: its slot is the worker's to give again.
    const leaving = held[0] as Socket;
    leaving.resume();
    (holding[0] as ServerResponse).end('done');
    await once(leaving, 'close');
    while (worker.cap.active() > 2) await new Promise((r) => setTimeout(r, 5));
    assert.match(await statusOf(port), / 200 /);
  });

  it('never takes more connections than it had when told the host is FULL, even under its own cap', async () => {
    await hold(2);
    worker.cap.setHostFull(true, 3, 3);
    assert.match(await statusOf(port), / 503 /, 'the third slot belongs to another worker now');
    worker.cap.setHostFull(false, 2, 3);
    assert.match(await statusOf(port), / 200 /);
  });
});
