// What `corral status` says when the admin API did not give it the per-worker figures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { figuresRefusedHint } from '../../src/cli/commands/status.js';

test('status says why it has no per-worker figures: no token here, a token the master refused, or a master running without one', () => {
  assert.equal(figuresRefusedHint(undefined), 'set CORRAL_ADMIN_TOKEN for per-worker figures');
  assert.match(figuresRefusedHint({ status: 401, body: { error: 'unauthorized' } }), /^the admin API refused CORRAL_ADMIN_TOKEN \(HTTP 401\): it must be the token the master runs with/);
  // A master started (or last reloaded) with no token refuses every token with 403 admin_token_unset:
  // the token here is not wrong, the master needs a reload to read it.
  assert.equal(
    figuresRefusedHint({ status: 403, body: { success: false, error: 'admin_token_unset', message: 'set CORRAL_ADMIN_TOKEN to use the admin API' } }),
    'the master runs without CORRAL_ADMIN_TOKEN (its settings at its start or last reload had none), so it refuses every token: `corral reload` applies the one set now',
  );
  assert.match(figuresRefusedHint({ status: 500, body: undefined }), /answered HTTP 500 for the figures; see the master's log/);
});
