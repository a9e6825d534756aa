import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { prepareJson, prepareJsonPieces, sendJsonText, sendPrepared } from '../../src/http/json.js';

describe('JSON answers', () => {
  const prepared = prepareJson('{"players":["Zoë"]}');
  const pieces = prepareJsonPieces(Buffer.from('{"players":["Zoë"],"at":'), Buffer.from('"é"}'));
  let server: Server;
  let base: string;
  before(async () => {
    server = createServer((req, res) => {
      // As a draining worker or the rate limit do: a header set before the prepared ones.
      if (req.url === '/with-header') res.setHeader('Connection', 'close');
      if (req.url === '/text') sendJsonText(res, 201, '{"a":"é"}', { 'Retry-After': '5' });
      else if (req.url === '/pieces') sendPrepared(res, 200, pieces);
      else sendPrepared(res, 200, prepared);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('prepares the bytes and a frozen header object once, with the byte length of the UTF-8 body', () => {
    assert.equal(prepared.bytes.toString('utf8'), '{"players":["Zoë"]}');
    assert.equal(prepared.headers['Content-Length'], prepared.bytes.length);
    assert.equal(prepared.bytes.length, '{"players":["Zoë"]}'.length + 1);
    assert.ok(Object.isFrozen(prepared.headers));
  });

  it('sends the same prepared answer again and again, alone or after headers set earlier', async () => {
    for (const path of ['/', '/', '/with-header', '/']) {
      const res = await fetch(`${base}${path}`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('connection'), path === '/with-header' ? 'close' : 'keep-alive');
      assert.deepEqual(await res.json(), { players: ['Zoë'] });
    }
    // node:http only read the shared object: nothing was added to it.
    assert.deepEqual(Object.keys(prepared.headers), ['Content-Type', 'Content-Length', 'Cache-Control', 'X-Content-Type-Options']);
  });

  it('sends text with the same headers plus the extra ones', async () => {
    const res = await fetch(`${base}/text`);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('retry-after'), '5');
    assert.equal(res.headers.get('content-length'), '10');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(await res.json(), { a: 'é' });
  });
  it('sends a body prepared in two pieces as one, its Content-Length counting both', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await fetch(`${base}/pieces`);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(Buffer.byteLength('{"players":["Zoë"],"at":"é"}')));
      assert.deepEqual(await res.json(), { players: ['Zoë'], at: 'é' });
    }
  });
});
