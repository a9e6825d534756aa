import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { createDeps } from '../../src/app/deps.js';
import { bearerToken, HttpError } from '../../src/app/http.js';

/** A request carrying `authorization` as one header, as node:http hands it over. */
function req(authorization: string): IncomingMessage {
  return { headers: { authorization }, rawHeaders: ['Authorization', authorization] } as unknown as IncomingMessage;
}

describe('bearerToken', () => {
  it('takes a token holding a comma: CORRAL_ADMIN_TOKEN may (printable ASCII)', () => {
    assert.equal(bearerToken(req('Bearer abc,def-0123456789')), 'abc,def-0123456789');
    assert.equal(bearerToken(req('Bearer abc,')), 'abc,');
  });

  it('refuses two Bearer credentials merged into one header, with or without a blank after the comma', () => {
    for (const h of ['Bearer A, Bearer B', 'Bearer A,Bearer B', 'Bearer A Bearer B']) {
      assert.throws(() => bearerToken(req(h)), (err: unknown) => err instanceof HttpError && err.status === 400, h);
    }
  });

  it('GET /api/export: the admin token with a comma passes requireAdmin', () => {
    const token = 'admin,token-0123456789';
    const deps = createDeps({ settings: { CORRAL_ADMIN_TOKEN: token } } as never, {} as never);
    assert.doesNotThrow(() => deps.requireAdmin(req(`Bearer ${token}`)));
  });
});
