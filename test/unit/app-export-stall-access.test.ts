// An export that cuts a client which stopped reading says so on its access line: a bare 499 is
// the client's doing (README, the access event).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import type { Logger } from '../../src/log/logger.js';

describe('the access line of an export cut for its send stall', () => {
  it("says the export cut it (cut: send_stall, as the worker's own cuts say theirs), not a bare 499 laid on the client", { timeout: 20_000 }, async (t) => {
    const { loadSettings } = await import('../../src/config/load.js');
    const { createLogger } = await import('../../src/log/logger.js');
    const { createWorkerServer } = await import('../../src/worker/server.js');
    const { createCsvPool } = await import('../../src/app/export/pool.js');
    const { streamCsv } = await import('../../src/app/export/stream.js');
    const { settings } = loadSettings({ env: { CORRAL_ENV_FILE: 'none', CORRAL_BIND: '127.0.0.1:0', CORRAL_LOG_LEVEL: 'silent' } });
    const { logger } = createLogger(settings, { role: 'worker', worker: 1, generation: 1 });
    const lines: Record<string, unknown>[] = [];
    const accessLogger = { info: (l: Record<string, unknown>) => void lines.push(l) } as unknown as Logger;
    const pool = createCsvPool(1);
    const values = Array.from({ length: 60_000 }, (_, i) => [`row-${i}`, 'x'.repeat(200)]);
    let ended!: (end: string) => void;
    const end = new Promise<string>((resolve) => (ended = resolve));
    const worker = createWorkerServer(
      (req, res) => void streamCsv(req, res, pool, values, 'big', { sendStallMs: 500 }).then(ended),
      { settings, logger, accessLogger, workerId: 1, generation: 1, perWorkerCap: 10, onServed: () => undefined },
    );
    const { port } = await worker.listen();
    const socket = connect(port, '127.0.0.1');
    t.after(async () => {
      socket.destroy();
      await worker.drain(100);
      await pool.close();
    });
    await once(socket, 'connect');
    socket.on('error', () => undefined);
    socket.pause(); // reads nothing
    socket.write('GET /export HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(await end, 'stalled');
    const deadline = Date.now() + 2000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const line = lines[0];
    assert.equal(line?.status, 499);
    assert.equal(line?.cut, 'send_stall', JSON.stringify(line));
  });
});
