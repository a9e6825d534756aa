// An event acknowledged with 201 survives a crash of every worker right after the answer: the row
// was fsynced in the keeper's journal before the 201, so it reaches the sheet exactly once.

import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { prepareWorkDir, sampleSession } from '../fixtures/offline-sheet.js';

const TOKEN = 'integration-admin-token-1234';

describe('bundled app: durable events on the real master', () => {
  let c: CorralProcess;
  let dir: string;
  before(async () => {
    dir = prepareWorkDir();
    // A fixed port: with every worker killed, cluster closes the shared listener and an ephemeral
    // (port 0) bind would come back on another port.
    const port = await freePort();
    c = await startCorral({ cwd: dir, workers: 2, env: { CORRAL_BIND: `127.0.0.1:${port}`, CORRAL_RATE_LIMIT: '0', CORRAL_ADMIN_TOKEN: TOKEN } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('validates, needs a session, and survives kill -9 of every worker right after the 201', async () => {
    const auth = await sampleSession(c.url, 'Chloé Dubois');
    const post = (body: unknown, token?: string) =>
      http(`${c.url}/api/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });

    assert.equal((await post({ kind: 'goal' })).status, 401);
    const bad = await post({ kind: '' }, auth);
    assert.equal(bad.status, 400);
    assert.equal(bad.json<{ field: string }>().field, 'kind');

    const stats = await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const pids = stats.json<{ workers: { pid: number }[] }>().workers.map((w) => w.pid);
    assert.equal(pids.length, 2);

    const created = await post({ kind: 'goal', detail: 'Match 7, "header", 88th minute' }, auth);
    assert.equal(created.status, 201, created.text);
    const { id } = created.json<{ id: string }>();
    // Crash every worker right after the acknowledgement.
    for (const pid of pids) process.kill(pid, 'SIGKILL');

    await waitFor(async () => {
      const s = await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const ws = s.json<{ workers: { pid: number; state: string }[] }>().workers;
      return ws.filter((w) => w.state === 'ready' && !pids.includes(w.pid)).length === 2;
    }, 20_000, 'two replacement workers');

    // Read-your-writes through the app, from a new worker...
    const exported = await http(`${c.url}/api/export?sheet=Events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(exported.status, 200);
    assert.equal(exported.text.split(id).length - 1, 1, 'the event is in the Events tab once');
    assert.ok(exported.text.includes('"Match 7, ""header"", 88th minute"'));

    // ...and on disk in the sheet itself, exactly once, once the journal has flushed.
    const file = join(c.dataDir, 'sheet', 'Events.csv');
    await waitFor(() => readFileSync(file, 'utf8').includes(id), 20_000, 'the journal to flush the event into the sheet');
    const rows = readFileSync(file, 'utf8').split(/\r?\n/).filter((l) => l.startsWith(id));
    assert.equal(rows.length, 1);
    assert.match(rows[0] ?? '', new RegExp(`^${id},Chloé Dubois,goal,`));
  });

  it('an export of a bounded range of Events read before an event shows the event right after its 201, once', async () => {
    const auth = await sampleSession(c.url, 'Bruno Leroy');
    // An admin's export of a block (A1 range with its last row): cached by the keeper from here.
    const exportBlock = async () => {
      const res = await http(`${c.url}/api/export?sheet=${encodeURIComponent('Events!A1:E1000')}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      assert.equal(res.status, 200, res.text);
      return res.text;
    };
    await exportBlock();
    const created = await http(`${c.url}/api/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
      body: JSON.stringify({ kind: 'save', detail: 'bounded export' }),
    });
    assert.equal(created.status, 201, created.text);
    const { id } = created.json<{ id: string }>();
    // It showed the block as cached before the append until SHEET_CACHE_TTL (30 s) ran out.
    assert.equal((await exportBlock()).split(id).length - 1, 1, 'the acknowledged event is in the export at once');
    const file = join(c.dataDir, 'sheet', 'Events.csv');
    await waitFor(() => readFileSync(file, 'utf8').includes(id), 20_000, 'the journal to flush the event into the sheet');
    assert.equal((await exportBlock()).split(id).length - 1, 1, 'once in the sheet, still shown once');
  });

  it('a client that closes mid-upload is logged as an access line with 499, not as a server error', async () => {
    const { port } = new URL(c.url);
    const sock = connect(Number(port), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    // The worker sends its 100 once the request is its own (counted, and due an access line):
    // the upload begins then, and stops part way. A fixed pause before the close, were it too
    // short on a loaded machine, left no request (and no access line) to judge.
    const continued = new Promise<void>((r) => sock.on('data', (d: Buffer) => d.toString('latin1').startsWith('HTTP/1.1 100 ') && r()));
    sock.write('POST /api/login?aborted=1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n');
    await continued;
    sock.write('{"name":');
    sock.destroy();
    const line = await c.waitForLog((l) => l.event === 'access' && l.path === '/api/login?aborted=1', 10_000, 'the access line of the aborted upload');
    assert.equal(line.status, 499);
    assert.equal(line.cut, undefined, 'the client went away: no cut of the worker');
    assert.deepEqual(c.logs().filter((l) => l.level === 'error' && l.event === 'app.error'), []);
  });
});
