// A target that stops answering near the end of a step, against the whole run (runLoadtest) and a
// small app of the test's own on an ephemeral port: the users, each waiting for its answer (a
// closed model), record the stall once each, among the many quick answers before it. Counted so,
// a target that answered nothing for the last quarter of the run passed p95 ("supports 10
// concurrent users: yes"), though README says a target that stops answering fails p95.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseLoadtestArgs } from '../../src/loadtest/options.js';
import { runLoadtest } from '../../src/loadtest/run.js';

describe('loadtest against a target that stops answering', () => {
  it('fails p95 when every user waits for the last quarter of the run, though each waits only once', async () => {
    let loadStarted: number | undefined;
    let logins = 0;
    const hanging: ServerResponse[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const json = (status: number, body: unknown): void => void res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
        // The checks before the load log in once: the load's first login starts the clock.
        if (req.url === '/api/login' && ++logins === 2) loadStarted = Date.now();
        if (loadStarted !== undefined && Date.now() - loadStarted > 4500) return void hanging.push(res);
        if (req.url === '/api/login') return json(200, { token: 't' });
        return json(req.method === 'POST' ? 201 : 200, req.url === '/api/players' ? [{ name: 'a' }] : {});
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const out = mkdtempSync(join(tmpdir(), 'corral-stall-'));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const parsed = parseLoadtestArgs(['--target', url, '--users', '10', '--duration', '6s', '--think-time', '100ms', '--out', out], '/tmp');
      assert.equal(parsed.help, false);
      if (parsed.help) return;
      const report = await runLoadtest(parsed.options, { stdout: { write: () => true }, stderr: { write: () => true }, version: 'test' });
      const step = report.result.segments[0];
      assert.ok(step);
      // Every user was left waiting about 1.5 s of the 6 s run, after some 40 quick answers each.
      assert.ok(step.counts.unanswered >= 8, `unanswered: ${step.counts.unanswered}`);
      assert.equal(step.pass, false, `p95 ${step.latencyMs?.p95} ms: ${report.result.verdict.headline}`);
      assert.match(report.result.verdict.headline, /^supports 10 concurrent users: no \(p95 \d+ ms/);
      assert.equal(report.exitCode, 2);
    } finally {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      rmSync(out, { recursive: true, force: true });
    }
  });
});
