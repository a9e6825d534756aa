// getAdminJson: how `corral status`, `stop` and `reload` read the admin API, and what they say when
// it does not answer as one.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, test } from 'node:test';
import { getAdminJson } from '../../src/cli/master-admin-api.js';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/** A TCP server on loopback doing `onConnection` with each connection; its base URL. */
async function rawServer(onConnection: (socket: import('node:net').Socket) => void): Promise<string> {
  const s = createServer(onConnection).listen(0, '127.0.0.1');
  servers.push(s);
  await new Promise((r) => s.once('listening', r));
  const address = s.address();
  assert.ok(address && typeof address === 'object');
  return `http://127.0.0.1:${address.port}`;
}

test('a JSON answer of any status is returned with its status, the token sent as a bearer', async () => {
  let head = '';
  const base = await rawServer((c) => {
    c.once('data', (d: Buffer) => {
      head = d.toString('latin1');
      c.end('HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 20\r\n\r\n{"status":"stopped"}');
    });
  });
  assert.deepEqual(await getAdminJson(`${base}/api/admin/health`, 'the-token'), { status: 503, body: { status: 'stopped' } });
  assert.match(head, /^GET \/api\/admin\/health HTTP\/1\.1\r\n/);
  assert.match(head, /\r\nauthorization: Bearer the-token\r\n/i);
});

test('nothing listening: the refusal, with the address', async () => {
  const base = await rawServer(() => undefined);
  const port = new URL(base).port;
  for (const s of servers.splice(0)) s.close();
  await assert.rejects(getAdminJson(`${base}/api/admin/health`, undefined), { message: `connect ECONNREFUSED 127.0.0.1:${port}` });
});

test('a listener that never answers: "no answer within" the time given, at that time', async () => {
  const base = await rawServer(() => undefined);
  const started = Date.now();
  await assert.rejects(getAdminJson(`${base}/api/admin/health`, undefined, 300), { message: 'no answer within 300 ms' });
  assert.ok(Date.now() - started < 3000);
});

test('an answer that is not JSON (another server on the port) is refused as such', async () => {
  const base = await rawServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n<html/>\r\n')));
  await assert.rejects(getAdminJson(`${base}/`, undefined), SyntaxError);
});
