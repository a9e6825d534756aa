// HELP texts say what the series count, as the README does: the connection cap's refusals are
// connections answered before any request was read (the HELP called them requests, which an
// operator would look for in corral_requests_total), and the capacity status is FULL at a refusal
// and at least WARNING when idle connections were closed to admit new ones, whatever the share
// (the HELP gave the share's thresholds alone).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdminMetrics } from '../../src/master/admin/metrics.js';
import { child, createFakeView, testSettings } from '../fixtures/fake-admin-view.js';

test('HELP of the refusal counter and of the capacity status say what they count', async () => {
  const text = await createAdminMetrics(createFakeView(testSettings(), [child(1, 101, 'ready', {})]), () => undefined).render();
  const help = (name: string) => new RegExp(`^# HELP ${name} (.*)$`, 'm').exec(text)?.[1] ?? '';
  assert.match(help('corral_connections_refused_total'), /^Connections .*before any request was read/);
  assert.match(help('corral_capacity_status'), /idle connections were closed/);
  assert.match(help('corral_capacity_status'), /FULL when one was refused/);
});
