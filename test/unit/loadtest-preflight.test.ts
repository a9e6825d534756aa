// The checks before the load (preflight.ts) against small servers of the test's own: a target that
// redirects (a proxy sending http:// to https://, a path moved) is refused before any load, as no
// request of the run follows a redirect and every login would be answered so.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import { DEFAULT_MIX } from '../../src/loadtest/mix.js';
import { parseLoadtestArgs } from '../../src/loadtest/options.js';
import { preflight } from '../../src/loadtest/preflight.js';
import { loadtestRefusal } from '../helpers/loadtest-refusal.js';

async function withServer(handle: (req: IncomingMessage, res: ServerResponse) => void, fn: (url: string) => Promise<void>): Promise<void> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

function options(url: string, extra: readonly string[] = []) {
  const parsed = parseLoadtestArgs(['--target', url, '--users', '1', ...extra], '/tmp');
  assert.equal(parsed.help, false);
  return (parsed as { options: Parameters<typeof preflight>[0] }).options;
}

describe('preflight', () => {
  it('refuses a target that redirects every request (http:// to https:// by a proxy), naming where it redirects, exit 64', async () => {
    const asked: string[] = [];
    await withServer(
      (req, res) => {
        asked.push(`${req.method} ${req.url}`);
        res.writeHead(301, { location: `https://app.example${req.url}`, 'content-type': 'text/html' }).end('<p>moved</p>');
      },
      async (url) => {
        await assert.rejects(
          preflight(options(url), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          loadtestRefusal(/answered GET \/api\/players with HTTP 301, a redirect to https:\/\/app\.example\/api\/players: corral loadtest follows no redirect/, 'CORRAL_ERR_LOADTEST_TARGET'),
        );
      },
    );
    assert.deepEqual(asked, ['GET /api/players']);
  });

  it("writes a redirect's Location with its control characters escaped (undici passes 0x80-0x9f, CSI among them)", async () => {
    await withServer(
      (_req, res) => res.writeHead(302, { location: 'https://x.example/\u009b2J' }).end(),
      async (url) => {
        await assert.rejects(
          preflight(options(url), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          (err: unknown) => {
            assert.ok(err instanceof LoadtestError);
            assert.match(err.message, /a redirect to https:\/\/x\.example\/\\u009b2J:/);
            assert.doesNotMatch(err.message, /[\u0080-\u009f]/);
            return true;
          },
        );
      },
    );
  });

  it('refuses a login answered with a redirect (a login page moved), though the roster answered', async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        res.writeHead(302).end();
      },
      async (url) => {
        await assert.rejects(
          preflight(options(url), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          loadtestRefusal(/answered POST \/api\/login with HTTP 302, a redirect with no Location/, 'CORRAL_ERR_LOADTEST_TARGET'),
        );
      },
    );
  });

  it('refuses a target answering the public roster 401 or 403 (an authenticating proxy in front), not laying it on --users-file', async () => {
    // GET /api/players answers anyone without a token: refused there, the next refusal, the
    // login's 401, sent the operator to fix the players' codes of a target that asked for none.
    for (const status of [401, 403]) {
      const asked: string[] = [];
      await withServer(
        (req, res) => {
          asked.push(`${req.method} ${req.url}`);
          res.writeHead(status, { 'www-authenticate': 'Basic realm="x"', 'content-type': 'text/plain' }).end('denied');
        },
        async (url) => {
          await assert.rejects(
            preflight(options(url), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
            loadtestRefusal(new RegExp(`answered GET /api/players with HTTP ${status}, a route corral's app answers to anyone without a token: something in front of it asks for credentials \\(an authenticating proxy\\), or it is not corral's app; give --target the URL the app answers at$`), 'CORRAL_ERR_LOADTEST_TARGET'),
          );
        },
      );
      assert.deepEqual(asked, ['GET /api/players']);
    }
  });

  it('says a target with no admin token set (403 admin_token_unset on the export) needs one set there, not a token checked', async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        if (req.url === '/api/login') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
        res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"admin_token_unset","message":"set CORRAL_ADMIN_TOKEN to use admin routes"}');
      },
      async (url) => {
        await assert.rejects(
          preflight(options(url, ['--admin-token', 'admin-token-0123456789']), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          loadtestRefusal(/^the target has no admin token set \(GET \/api\/export answered HTTP 403 admin_token_unset\), so it answers no export: set CORRAL_ADMIN_TOKEN in its settings and reload it \(corral reload\), then pass the same token with --admin-token; or leave exports out with --mix$/),
        );
      },
    );
  });

  it('lets a target that answers the login with a token through', async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
      },
      async (url) => {
        const notes: string[] = [];
        await preflight(options(url), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', notes, undefined);
        assert.deepEqual(notes, []);
      },
    );
  });

  it('refuses a target without the export route when exports are in the mix, before any load, as it refuses one without the roster', async () => {
    const asked: string[] = [];
    await withServer(
      (req, res) => {
        asked.push(`${req.method} ${req.url}`);
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        if (req.url === '/api/login') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found","message":"no route"}');
      },
      async (url) => {
        await assert.rejects(
          preflight(options(url, ['--admin-token', 'admin-token-0123456789']), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          loadtestRefusal(/answered 404 for GET \/api\/export\?sheet=Players: it has no export route .*; leave exports out with --mix$/, 'CORRAL_ERR_LOADTEST_TARGET'),
        );
      },
    );
    assert.deepEqual(asked, ['GET /api/players', 'POST /api/login', 'GET /api/export?sheet=Players']);
  });

  it("lets the app's own 404 about the sheet through (its answer, not a missing route), and refuses an export that resets the connection", async () => {
    await withServer(
      (req, res) => {
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        if (req.url === '/api/login') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"sheet_not_found","message":"no tab Players"}');
      },
      async (url) => {
        await preflight(options(url, ['--admin-token', 'admin-token-0123456789']), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined);
      },
    );
    await withServer(
      (req, res) => {
        if (req.url === '/api/players') return res.writeHead(200, { 'content-type': 'application/json' }).end('[]');
        if (req.url === '/api/login') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
        req.socket.destroy();
      },
      async (url) => {
        await assert.rejects(
          preflight(options(url, ['--admin-token', 'admin-token-0123456789']), DEFAULT_MIX, { name: 'Alice Martin', code: 'P001' }, 'players.csv', [], undefined),
          (err: unknown) => {
            // Not answering is exit 69, as a target that does not answer the roster.
            assert.ok(err instanceof LoadtestError, String(err));
            assert.deepEqual([err.code, err.exitCode], ['CORRAL_ERR_LOADTEST_TARGET', LOADTEST_EXIT.TARGET_UNREACHABLE]);
            assert.match(err.message, /did not answer GET \/api\/export\?sheet=Players \(.+\), though it answered the roster and a login$/);
            return true;
          },
        );
      },
    );
  });
});
