// What the master tells a child through its environment, read back as the child reads it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identityEnv, readIdentity } from '../../src/config/identity.js';

test('a worker joining a serving generation reads when that generation was ready; a first-boot worker reads none', () => {
  const joining = { role: 'worker', workerId: 7, generation: 3, workers: 4, generationReadyAt: 1_764_150_000_123 } as const;
  assert.deepEqual(readIdentity(identityEnv(joining)), joining);
  const first = { role: 'worker', workerId: 1, generation: 3, workers: 4 } as const;
  assert.deepEqual(readIdentity(identityEnv(first)), first);
  assert.equal(identityEnv(first).CORRAL_INTERNAL_GENERATION_READY_AT, undefined);
  // A value that is no time is read as none (a first boot), never as a time.
  assert.equal(readIdentity({ ...identityEnv(first), CORRAL_INTERNAL_GENERATION_READY_AT: 'soon' })?.generationReadyAt, undefined);
});
