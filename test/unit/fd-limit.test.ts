// The open-files limit: read from /proc/PID/limits, and judged at start against what a worker
// holds (fd_limit.low): a worker past it crashed instead of answering 503 (EMFILE).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionFdBudget, connectionsWithin, masterFdNeed, parseOpenFilesLimit, readOpenFilesLimit, WORKER_FD_RESERVE, workerFdNeed } from '../../src/fd-limit.js';
import { maxConnectionsOf, perWorkerCap, workerConnectionsWithin } from '../../src/master/capacity.js';
import { fdLimitMessage, fdLimitShortfall, warnFdLimit } from '../../src/master/fd-limit-check.js';
import { limitNoFile } from '../../src/systemd/unit.js';
import { memoryLogger } from '../fixtures/memory-logger.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            256                  4096                 files
Max locked memory         8388608              8388608              bytes
`;

const DEFAULTS = { CORRAL_WORKERS: 2, CORRAL_WORKER_CONNECTIONS: 1000, CORRAL_MAX_CONNECTIONS: 0, CORRAL_ACCEPT: 'shared' } as const;

describe('the open-files limit of a process', () => {
  it('reads the soft and hard "Max open files" of /proc/PID/limits; unlimited is undefined', () => {
    assert.deepEqual(parseOpenFilesLimit(LIMITS), { soft: 256, hard: 4096 });
    assert.deepEqual(parseOpenFilesLimit(LIMITS.replace('256                  4096', 'unlimited            unlimited')), { soft: undefined, hard: undefined });
    assert.equal(parseOpenFilesLimit('no such line'), undefined);
  });

  it("reads this process's, and nothing for a pid that is not there", { skip: process.platform !== 'linux' && 'Linux /proc only' }, () => {
    assert.equal(typeof readOpenFilesLimit()?.soft, 'number');
    assert.equal(readOpenFilesLimit(2 ** 22 + 12345), undefined);
  });

  it('keeps a worker its own files and room to answer 503 beside its connections', () => {
    assert.equal(workerFdNeed(1000), 1000 + WORKER_FD_RESERVE);
    assert.equal(connectionsWithin(256), 256 - WORKER_FD_RESERVE);
    assert.ok(connectionFdBudget(256)! > connectionsWithin(256)!, 'over-cap answers fit between the cap and the budget');
    assert.ok(connectionFdBudget(256)! < 256);
    assert.equal(connectionsWithin(undefined), undefined);
    assert.equal(connectionsWithin(10), 1);
  });

  it("holds CORRAL_WORKER_CONNECTIONS under it, and the host's cap with it", () => {
    assert.equal(workerConnectionsWithin(1000, 192), 192);
    assert.equal(workerConnectionsWithin(100, 192), 100);
    assert.equal(workerConnectionsWithin(1000, undefined), 1000);
    assert.equal(maxConnectionsOf(2, workerConnectionsWithin(1000, 192), 0), 384);
    assert.equal(perWorkerCap(2, workerConnectionsWithin(1000, 192), 0, 'round-robin'), 192);
  });
});

describe('the start check against the open-files limit (fd_limit.low)', () => {
  it('under ulimit -n 256, 2 workers x 1000 connections: lowered to 192 each, 384 in all, with the three fixes', () => {
    const f = fdLimitShortfall(DEFAULTS, { soft: 256, hard: 256 });
    assert.ok(f);
    assert.equal(f.need, 1064);
    assert.equal(f.workerCap, 192);
    assert.equal(f.configuredMax, 2000);
    assert.equal(f.max, 384);
    assert.equal(f.fittingWorkerConnections, 192);
    assert.equal(f.unitLimitNoFile, limitNoFile(2, 1000), "the unit generator's own LimitNOFILE");
    const msg = fdLimitMessage(f);
    assert.match(msg, /open-files limit \(RLIMIT_NOFILE\) 256 is below the 1064 a worker may need/);
    assert.match(msg, /lowered to 192 and the host's from 2000 to 384/);
    assert.match(msg, /ulimit -n 1064 \(its hard limit is 256: only root can raise it past that\)/);
    assert.match(msg, new RegExp(`LimitNOFILE=${limitNoFile(2, 1000)}`));
    assert.match(msg, /lower CORRAL_WORKER_CONNECTIONS to 192/);
  });

  it('says nothing when the limit holds a worker, or is unknown or unlimited', () => {
    assert.equal(fdLimitShortfall(DEFAULTS, { soft: 1064, hard: 4096 }), undefined);
    assert.equal(fdLimitShortfall(DEFAULTS, undefined), undefined);
    assert.equal(fdLimitShortfall(DEFAULTS, { soft: undefined, hard: undefined }), undefined);
  });

  it("with round-robin, judges a worker's share of CORRAL_MAX_CONNECTIONS", () => {
    const fits = fdLimitShortfall({ ...DEFAULTS, CORRAL_ACCEPT: 'round-robin', CORRAL_MAX_CONNECTIONS: 300 }, { soft: 256, hard: 256 });
    assert.equal(fits?.workerShort, false, "a worker's 150 fit");
    assert.equal(fits?.workerCap, 150, 'its cap unchanged');
    const f = fdLimitShortfall({ ...DEFAULTS, CORRAL_ACCEPT: 'round-robin', CORRAL_MAX_CONNECTIONS: 600 }, { soft: 256, hard: 256 });
    assert.equal(f?.workerMayHold, 300);
    assert.equal(f?.max, 384);
  });

  it("with round-robin, judges the master's own need too: it holds every connection it accepts until a worker takes it, up to the host's cap in a burst", () => {
    const rr = { ...DEFAULTS, CORRAL_ACCEPT: 'round-robin', CORRAL_WORKER_CONNECTIONS: 100 } as const;
    // 2 workers x 100: each worker's 100 + 64 fit in 1024, and so does the master's 200 + 64 + 3 x 5.
    assert.equal(masterFdNeed(200, 2), 279);
    assert.equal(fdLimitShortfall(rr, { soft: 1024, hard: 1024 }), undefined);
    // 16 workers x 100: a worker's 164 fit in 1024; the master's 1600 + 64 + 3 x 33 do not.
    const f = fdLimitShortfall({ ...rr, CORRAL_WORKERS: 16 }, { soft: 1024, hard: 4096 });
    assert.ok(f);
    assert.equal(f.workerShort, false);
    assert.equal(f.workerCap, 100, "each worker's cap unchanged: no behaviour changes");
    assert.deepEqual(f.master, { need: 1763, hostCap: 1600, fittingMaxConnections: 1024 - 163 });
    const msg = fdLimitMessage(f);
    assert.match(msg, /^open-files limit \(RLIMIT_NOFILE\) 1024 is below the 1763 the master may need; each worker's share \(100 connections \+ 64\) fits, and its cap is unchanged\./);
    assert.match(msg, /With CORRAL_ACCEPT=round-robin the master accepts every connection itself .* up to the host's cap of 1600 at once/);
    assert.match(msg, /accept\(\) fails with EMFILE, and connections waiting in the listen backlog are closed unanswered, with nothing logged/);
    assert.match(msg, /Fix: ulimit -n 1763 in the shell .*LimitNOFILE=\d+ .*or lower CORRAL_MAX_CONNECTIONS to 861 .*or set CORRAL_ACCEPT=shared/);
    assert.doesNotMatch(msg, /CORRAL_WORKER_CONNECTIONS to/);
    // Shared accept: each worker accepts its own; the master holds none.
    assert.equal(fdLimitShortfall({ ...rr, CORRAL_WORKERS: 16, CORRAL_ACCEPT: 'shared' }, { soft: 1024, hard: 4096 }), undefined);
    const { logger, lines } = memoryLogger();
    warnFdLimit(logger, { ...rr, CORRAL_WORKERS: 16 }, { soft: 1024, hard: 4096 });
    const [line] = lines;
    assert.equal(line?.event, 'fd_limit.low');
    assert.equal(line?.code, 'CORRAL_ERR_FD_LIMIT');
    assert.deepEqual([line?.master_fd_need, line?.master_may_hold, line?.worker_cap], [1763, 1600, 100]);
    assert.deepEqual(line?.fix, { ulimit: 1763, LimitNOFILE: limitNoFile(16, 100), CORRAL_MAX_CONNECTIONS: 861, CORRAL_ACCEPT: 'shared' });
  });

  it('with round-robin and both short, says both and asks the larger limit', () => {
    const f = fdLimitShortfall({ ...DEFAULTS, CORRAL_ACCEPT: 'round-robin' }, { soft: 256, hard: 256 });
    assert.ok(f?.workerShort && f.master);
    assert.equal(f.master.need, 2000 + 64 + 15);
    const msg = fdLimitMessage(f);
    assert.match(msg, /below the 1064 a worker may need .*With CORRAL_ACCEPT=round-robin the master/);
    assert.match(msg, /Fix: ulimit -n 2079 \(its hard limit is 256.*lower CORRAL_WORKER_CONNECTIONS to 192, or lower CORRAL_MAX_CONNECTIONS to/);
  });

  it('logs a warning with its stable code and the figures', () => {
    const { logger, lines } = memoryLogger();
    warnFdLimit(logger, DEFAULTS, { soft: 256, hard: 256 });
    warnFdLimit(logger, DEFAULTS, { soft: 65536, hard: 65536 });
    assert.equal(lines.length, 1);
    const [line] = lines;
    assert.equal(line?.event, 'fd_limit.low');
    assert.equal(line?.level, 40, 'warn');
    assert.equal(line?.code, 'CORRAL_ERR_FD_LIMIT');
    assert.equal(line?.fd_limit, 256);
    assert.equal(line?.max_connections, 384);
    assert.deepEqual(line?.fix, { ulimit: 1064, LimitNOFILE: limitNoFile(2, 1000), CORRAL_WORKER_CONNECTIONS: 192 });
  });
});
