// A burst of refused admin tokens shorter than a minute (token guessing, CORRAL_RATE_LIMIT=0 behind a
// proxy) must end up in the log with its count: the first refusal is said at once, and the rest
// were said only with the next refusal a minute later, which after a burst may never come. The log
// said "1 request(s) refused" of fifty thousand guesses.

import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it, mock } from 'node:test';
import { createAdminRefusalLog } from '../../src/app/admin-refusals.js';
import { FAILURE_REPEAT_MS, RepeatedFailure } from '../../src/log/repeated-failure.js';
import { captureLogger } from '../fixtures/capture-logger.js';

describe('a burst of refusals shorter than the interval', () => {
  it('app.admin_unauthorized says the rest of the burst once the minute has passed, with no refusal after it', async () => {
    const log = await captureLogger('worker');
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let now = 1_000_000;
      const refused = createAdminRefusalLog(log.logger, () => '198.51.100.7', () => now);
      const req = { url: '/api/export', headers: { authorization: 'Bearer guessed-token-0000' } } as unknown as IncomingMessage;
      for (let i = 0; i < 500; i++) refused(req);
      now += 10_000;
      mock.timers.tick(10_000);
      for (let i = 0; i < 499; i++) refused(req);
      // The guesses stop; a minute passes.
      now += FAILURE_REPEAT_MS;
      mock.timers.tick(FAILURE_REPEAT_MS);
      const lines = log.lines().filter((l) => l.event === 'app.admin_unauthorized');
      assert.deepEqual(
        lines.map((l) => l.requests),
        [1, 998],
        'every refusal of the burst is counted in a line',
      );
    } finally {
      mock.timers.reset();
      log.close();
    }
  });

  it('RepeatedFailure.sayUnsaid says what was counted since the last line, once the interval has passed', () => {
    let now = 0;
    const f = new RepeatedFailure(() => now);
    const said: number[] = [];
    f.failed((n) => said.push(n));
    f.failed((n) => said.push(n));
    f.failed((n) => said.push(n));
    assert.equal(f.unsaidDueInMs(), FAILURE_REPEAT_MS);
    assert.equal(f.sayUnsaid((n) => said.push(n)), false, 'not before the interval');
    now = FAILURE_REPEAT_MS;
    assert.equal(f.unsaidDueInMs(), 0);
    assert.equal(f.sayUnsaid((n) => said.push(n)), true);
    assert.deepEqual(said, [1, 2]);
    assert.equal(f.unsaidDueInMs(), undefined, 'nothing left to say');
    // The interval runs from that line.
    f.failed((n) => said.push(n));
    assert.deepEqual(said, [1, 2]);
  });
});
