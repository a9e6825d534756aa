// The load generator's own limits: its open-file limit checked against the run's peak of users
// before the load, and the failures of this machine (EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS) told
// apart from the target's.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoadtestError, LOADTEST_EXIT } from '../../src/loadtest/exit.js';
import { checkFdLimit, generatorHint, isGeneratorError, parseOpenFilesLimit } from '../../src/loadtest/generator-limits.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            150                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

describe("the load generator's open-file limit", () => {
  it('reads the soft and hard "Max open files" of /proc/self/limits', () => {
    assert.deepEqual(parseOpenFilesLimit(LIMITS), { soft: 150, hard: 4096 });
    assert.deepEqual(parseOpenFilesLimit(LIMITS.replace('150                  4096', 'unlimited            unlimited')), { soft: undefined, hard: undefined });
    assert.equal(parseOpenFilesLimit('no such line'), undefined);
  });

  it('refuses a peak of users the limit cannot hold, before the load, with exit 64 and how to raise it', () => {
    assert.throws(() => checkFdLimit(300, { soft: 150, hard: 4096, open: 12 }), (err: unknown) => {
      assert.ok(err instanceof LoadtestError, String(err));
      assert.equal(err.code, 'CORRAL_ERR_LOADTEST_GENERATOR');
      assert.equal(err.exitCode, LOADTEST_EXIT.USAGE);
      assert.match(err.message, /open-file limit .*150/);
      assert.match(err.message, /300 virtual users/);
      assert.match(err.message, /ulimit -n/);
      assert.match(err.message, /LimitNOFILE=/);
      return true;
    });
  });

  it('lets a run through that fits, and skips the check where the limit cannot be read or is unlimited', () => {
    checkFdLimit(20, { soft: 150, hard: 4096, open: 12 });
    checkFdLimit(100_000, undefined);
    checkFdLimit(100_000, { soft: undefined, hard: undefined, open: 12 });
  });
});

describe("this machine's failures", () => {
  it('are told apart from the target\'s', () => {
    for (const code of ['EMFILE', 'ENFILE', 'EADDRNOTAVAIL', 'ENOBUFS']) assert.equal(isGeneratorError(code), true, code);
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET', 'timeout']) assert.equal(isGeneratorError(code), false, code);
  });

  it('come with what to do about them', () => {
    assert.match(generatorHint(['EMFILE']), /ulimit -n.*LimitNOFILE=/);
    assert.match(generatorHint(['EADDRNOTAVAIL']), /local port/);
  });
});
