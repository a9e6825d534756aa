import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { HttpError } from '../../src/app/http.js';
import { createRouter } from '../../src/app/router.js';
import { createFakeSheets, SAMPLE_EVENTS, SAMPLE_PLAYERS } from '../fixtures/fake-sheets.js';
import { startApp, type AppHarness } from '../fixtures/app-harness.js';

describe('router', () => {
  const ok = () => undefined;
  const router = createRouter().on('GET', '/a', ok).on('POST', '/b', ok);

  it('finds a handler by method and exact path, tolerating one trailing slash', () => {
    assert.equal(router.resolve('GET', '/a'), ok);
    assert.equal(router.resolve('GET', '/a/'), ok);
    assert.equal(router.resolve('HEAD', '/a'), ok);
  });

  it('throws 404 for unknown paths and 405 with Allow for other methods', () => {
    assert.throws(() => router.resolve('GET', '/nope'), (e: unknown) => e instanceof HttpError && e.status === 404 && e.error === 'not_found');
    assert.throws(
      () => router.resolve('DELETE', '/a'),
      (e: unknown) => e instanceof HttpError && e.status === 405 && e.headers.Allow === 'GET, HEAD, OPTIONS',
    );
    assert.throws(() => router.resolve('GET', '/b'), (e: unknown) => e instanceof HttpError && e.headers.Allow === 'POST, OPTIONS');
    // The path as sent, not as tolerated: one trailing slash is dropped only to find a route.
    assert.throws(() => router.resolve('GET', '/a//'), (e: unknown) => e instanceof HttpError && e.status === 404 && e.message === 'no route for /a//');
  });

  it('answers OPTIONS on a path 204 with the methods it takes, OPTIONS among them', async () => {
    let status = 0;
    let headers: Record<string, unknown> = {};
    const res = { writeHead: (s: number, h: Record<string, unknown>) => ((status = s), (headers = h)), end: () => undefined };
    await router.resolve('OPTIONS', '/a')({ res } as never);
    assert.deepEqual([status, headers.Allow], [204, 'GET, HEAD, OPTIONS']);
    await router.resolve('OPTIONS', '/b/')({ res } as never);
    assert.deepEqual([status, headers.Allow], [204, 'POST, OPTIONS']);
    assert.throws(() => router.resolve('OPTIONS', '/nope'), (e: unknown) => e instanceof HttpError && e.status === 404);
  });

  it('finds a handler from the raw target only when it is a registered path as written', () => {
    assert.equal(router.exact('GET', '/a'), ok);
    assert.equal(router.exact('HEAD', '/a'), ok);
    // Anything else goes through normalizing and resolve(), which answer 404/405 or find it.
    for (const [method, target] of [['GET', '/a/'], ['GET', '/a?x=1'], ['GET', '/a#f'], ['POST', '/a'], ['GET', '/b'], ['GET', '/nope']] as const) {
      assert.equal(router.exact(method, target), undefined, `${method} ${target}`);
    }
  });

  it('answers the asterisk-form target: OPTIONS with Allow of every route, anything else 400', async () => {
    let status = 0;
    let headers: Record<string, unknown> = {};
    const res = { writeHead: (s: number, h: Record<string, unknown>) => ((status = s), (headers = h)), end: () => undefined };
    await router.resolve('OPTIONS', '*')({ res } as never);
    assert.equal(status, 204);
    assert.equal(headers.Allow, 'GET, HEAD, POST, OPTIONS');
    assert.throws(() => router.resolve('POST', '*'), (e: unknown) => e instanceof HttpError && e.status === 400 && e.error === 'bad_request' && /OPTIONS only/.test(e.message));
  });

  it('refuses to register a path that URL parsing would change', () => {
    for (const path of ['api/x', '/a%20b', '/a/../b', '/a?x=1', '//a', '']) {
      assert.throws(() => createRouter().on('GET', path, ok), /not a plain path/, path);
    }
  });
});

describe('app routing over HTTP', () => {
  let app: AppHarness;
  before(async () => {
    app = await startApp({}, createFakeSheets({ Players: SAMPLE_PLAYERS, Events: SAMPLE_EVENTS }));
  });
  after(() => app.close());

  it('answers 404 JSON for an unknown route', async () => {
    const res = await fetch(`${app.url}/api/nothing-here`);
    assert.equal(res.status, 404);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(((await res.json()) as { error: string }).error, 'not_found');
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const res = await fetch(`${app.url}/api/login`);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST, OPTIONS');
    assert.equal(((await res.json()) as { error: string }).error, 'method_not_allowed');
    const res2 = await fetch(`${app.url}/api/players`, { method: 'DELETE' });
    assert.equal(res2.status, 405);
    assert.equal(res2.headers.get('allow'), 'GET, HEAD, OPTIONS');
    await res2.body?.cancel();
  });

  it('answers OPTIONS * (asterisk-form) 204 with the methods of all routes, and any other method with * 400', async () => {
    const asterisk = (method: string) =>
      new Promise<{ status: number; allow: string | undefined; body: string }>((resolve, reject) => {
        const req = request(`${app.url}/`, { method, path: '*' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow, body }));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    const options = await asterisk('OPTIONS');
    assert.equal(options.status, 204);
    assert.equal(options.allow, 'GET, HEAD, POST, OPTIONS');
    assert.equal(options.body, '');
    for (const method of ['POST', 'GET']) {
      const other = await asterisk(method);
      assert.equal(other.status, 400, method);
      const body = JSON.parse(other.body) as { error: string; message: string };
      assert.equal(body.error, 'bad_request');
      assert.match(body.message, /asterisk-form\) is for OPTIONS only/);
      assert.doesNotMatch(body.message, /\/\*/, 'no path /* the client never sent');
    }
  });

  it('reads a target starting with // as a path, never as a host that hides another path', async () => {
    // As a proxy forwards it: nginx merges slashes only to choose its location, then passes the
    // raw target on, so /api/admin/ rules must not be escapable this way.
    const raw = (path: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(`${app.url}/`, { path }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await raw('//evil/api/admin/health'), 404);
    assert.equal(await raw('/\\evil/api/players'), 404);
    assert.equal(await raw('/api\\admin/health'), 404);
    assert.equal(await raw('/api/admin/health'), 200);
  });

  it('keeps the connection after a 404 or 405 to a request without a body, and closes it when a body was left unread', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (path: string, method = 'GET', body?: string) =>
      new Promise<{ status: number; connection: string | undefined; socket: unknown }>((resolve, reject) => {
        const req = request(`${app.url}${path}`, { method, agent, headers: body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {} }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socket: req.socket }));
        });
        req.on('error', reject);
        req.end(body);
      });
    try {
      const first = await get('/nope');
      const second = await get('/api/players', 'DELETE');
      assert.deepEqual([first.status, first.connection, second.status, second.connection], [404, 'keep-alive', 405, 'keep-alive']);
      assert.equal(first.socket, second.socket, 'one connection for both');
      const withBody = await get('/nope', 'POST', '{"a":1}');
      assert.deepEqual([withBody.status, withBody.connection], [404, 'close']);
    } finally {
      agent.destroy();
    }
  });

  it('answers health on the public port', async () => {
    const res = await fetch(`${app.url}/api/admin/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    // The worker's own answer's fields, no more (under corral the worker answers before the app).
    assert.deepEqual(Object.keys(body), ['status', 'worker', 'generation']);
    assert.equal(body.status, 'ok');
  });
});
