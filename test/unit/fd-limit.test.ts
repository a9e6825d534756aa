// The open-files limit: read from /proc/PID/limits, and judged at start against what a worker
// holds (fd_limit.low): a worker past it crashed instead of answering 503 (EMFILE).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connectionFdBudget, connectionsWithin, keeperFdNeed, masterFdNeed, parseOpenFilesLimit, readOpenFilesLimit, WORKER_FD_RESERVE, workerFdNeed } from '../../src/fd-limit.js';
import { KEEPER_LINK_MAX_CONNECTIONS } from '../../src/keeper-link-pools.js';
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
    // 2 workers x 100: each worker's 100 + 64 fit in 1024, and so does the master's 200 + 64 + 4 x 5.
    assert.equal(masterFdNeed(200, 2), 284);
    assert.equal(fdLimitShortfall(rr, { soft: 1024, hard: 1024 }), undefined);
    // 16 workers x 100: a worker's 164 fit in 1024; the master's 1600 + 64 + 4 x 33 do not.
    const f = fdLimitShortfall({ ...rr, CORRAL_WORKERS: 16 }, { soft: 1024, hard: 4096 });
    assert.ok(f);
    assert.equal(f.workerShort, false);
    assert.equal(f.workerCap, 100, "each worker's cap unchanged: no behaviour changes");
    assert.deepEqual(f.master, { need: 1796, hostCap: 1600, fittingMaxConnections: 1024 - 196, fittingWorkers: undefined });
    const msg = fdLimitMessage(f);
    assert.match(msg, /^open-files limit \(RLIMIT_NOFILE\) 1024 is below the 1796 the master may need; each worker's share \(100 connections \+ 64\) fits, and its cap is unchanged\./);
    assert.match(msg, /With CORRAL_ACCEPT=round-robin the master accepts every connection itself .* up to the host's cap of 1600 at once/);
    assert.match(msg, /accept\(\) fails with EMFILE, and connections waiting in the listen backlog are closed unanswered, with nothing logged/);
    assert.match(msg, /Fix: ulimit -n 1796 in the shell .*LimitNOFILE=\d+ .*or lower CORRAL_MAX_CONNECTIONS to 828 .*or set CORRAL_ACCEPT=shared/);
    assert.doesNotMatch(msg, /CORRAL_WORKER_CONNECTIONS to/);
    // Shared accept: each worker accepts its own; the master holds none.
    assert.equal(fdLimitShortfall({ ...rr, CORRAL_WORKERS: 16, CORRAL_ACCEPT: 'shared' }, { soft: 1024, hard: 4096 }), undefined);
    const { logger, lines } = memoryLogger();
    warnFdLimit(logger, { ...rr, CORRAL_WORKERS: 16 }, { soft: 1024, hard: 4096 });
    const [line] = lines;
    assert.equal(line?.event, 'fd_limit.low');
    assert.equal(line?.code, 'CORRAL_ERR_FD_LIMIT');
    assert.deepEqual([line?.master_fd_need, line?.master_may_hold, line?.worker_cap], [1796, 1600, 100]);
    assert.deepEqual(line?.fix, { ulimit: 1796, LimitNOFILE: limitNoFile(16, 100), CORRAL_MAX_CONNECTIONS: 828, CORRAL_ACCEPT: 'shared' });
  });

  it('with round-robin and both short, says both and asks the larger limit', () => {
    const f = fdLimitShortfall({ ...DEFAULTS, CORRAL_ACCEPT: 'round-robin' }, { soft: 256, hard: 256 });
    assert.ok(f?.workerShort && f.master);
    assert.equal(f.master.need, 2000 + 64 + 20);
    const msg = fdLimitMessage(f);
    assert.match(msg, /below the 1064 a worker may need .*With CORRAL_ACCEPT=round-robin the master/);
    assert.match(msg, /Fix: ulimit -n 2084 \(its hard limit is 256.*lower CORRAL_WORKER_CONNECTIONS to 192, or lower CORRAL_MAX_CONNECTIONS to/);
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

describe('the master and the keeper under the open-files limit, with many workers (fd_limit.low)', () => {
  const many = { CORRAL_WORKERS: 128, CORRAL_WORKER_CONNECTIONS: 1000, CORRAL_MAX_CONNECTIONS: 0, CORRAL_ACCEPT: 'shared' } as const;

  it("counts every worker's keeper link, full, for two generations: 128 workers need 7488 of the keeper where a worker needs 1064", () => {
    assert.equal(KEEPER_LINK_MAX_CONNECTIONS, 29, 'reads 8 + first fills 8 + appends 8 + change feed 1 + brief 4');
    assert.equal(keeperFdNeed(128), 64 + 2 * 128 * 29);
    // Under a 4096 limit each worker's 1064 fit, and so do the master's 64 + 4 x 257: the keeper's
    // 7488 did not, and nothing said so.
    const f = fdLimitShortfall(many, { soft: 4096, hard: 4096 });
    assert.ok(f, 'said');
    assert.equal(f.workerShort, false);
    assert.equal(f.workerCap, 1000, "each worker's cap unchanged");
    assert.equal(f.master, undefined);
    assert.deepEqual(f.keeper, { need: 7488, fittingWorkers: 69 });
    const msg = fdLimitMessage(f);
    assert.match(msg, /^open-files limit \(RLIMIT_NOFILE\) 4096 is below the 7488 the keeper may need; each worker's share \(1000 connections \+ 64\) fits, and its cap is unchanged\./);
    assert.match(msg, /each worker holds up to 29 connections to it, for twice the workers while a reload runs two generations/);
    assert.match(msg, /Fix: ulimit -n 7488 \(its hard limit is 4096: only root can raise it past that\) in the shell .*LimitNOFILE=\d+ .*or lower CORRAL_WORKERS to 69$/);
    const { logger, lines } = memoryLogger();
    warnFdLimit(logger, many, { soft: 4096, hard: 4096 });
    assert.equal(lines[0]?.keeper_fd_need, 7488);
    assert.deepEqual(lines[0]?.fix, { ulimit: 7488, LimitNOFILE: limitNoFile(128, 1000), CORRAL_WORKERS: 69 });
  });

  it('counts the master\'s four descriptors per child with shared accept too, for twice the workers and the keeper', () => {
    // The audit's reload: 64 workers x 100 under `ulimit -n 400`; the master held 284 at rest, and a
    // reload's fork of the 28th new worker failed with EMFILE. Nothing was said at start.
    const f = fdLimitShortfall({ ...many, CORRAL_WORKERS: 64, CORRAL_WORKER_CONNECTIONS: 100 }, { soft: 400, hard: 400 });
    assert.ok(f);
    assert.equal(f.workerShort, false);
    assert.deepEqual(f.master, { need: 64 + 4 * 129, hostCap: 0, fittingMaxConnections: undefined, fittingWorkers: 41 });
    assert.equal(f.keeper?.need, 64 + 2 * 64 * 29);
    const msg = fdLimitMessage(f);
    assert.match(msg, /^open-files limit \(RLIMIT_NOFILE\) 400 is below the 580 the master and the 3776 the keeper may need;/);
    assert.match(msg, /The master holds 4 descriptors per child .* a fork fails with EMFILE \(CORRAL_ERR_FORK\)/);
    assert.doesNotMatch(msg, /round-robin|CORRAL_ACCEPT|CORRAL_MAX_CONNECTIONS/);
    assert.match(msg, /Fix: ulimit -n 3776 .*or lower CORRAL_WORKERS to 5$/, 'the smaller of the two counts that fit: the keeper\'s');
  });

  it("with round-robin the master's need is the host's cap and its children's descriptors, and fewer workers is not offered for it", () => {
    const f = fdLimitShortfall({ ...many, CORRAL_WORKERS: 16, CORRAL_WORKER_CONNECTIONS: 100, CORRAL_ACCEPT: 'round-robin' }, { soft: 1024, hard: 1024 });
    assert.equal(f?.master?.fittingWorkers, undefined);
    assert.equal(f?.keeper, undefined, "16 workers' links fit: 64 + 2 x 16 x 29 = 992");
    assert.equal(fdLimitShortfall({ ...many, CORRAL_WORKERS: 16, CORRAL_WORKER_CONNECTIONS: 100 }, { soft: 1024, hard: 1024 }), undefined, 'shared: every need fits');
  });

  it("the unit's LimitNOFILE holds every process: a worker, the master (round-robin too) and the keeper, up to 512 workers", () => {
    for (const workers of [1, 2, 8, 32, 128, 256, 512]) {
      for (const conns of [1, 100, 1000, 10000]) {
        const unit = limitNoFile(workers, conns);
        // A round-robin master holding the host's every connection past the kernel's 1048576 fits no limit.
        for (const accept of workers * conns < 1_000_000 ? (['shared', 'round-robin'] as const) : (['shared'] as const)) {
          assert.equal(fdLimitShortfall({ CORRAL_WORKERS: workers, CORRAL_WORKER_CONNECTIONS: conns, CORRAL_MAX_CONNECTIONS: 0, CORRAL_ACCEPT: accept }, { soft: unit, hard: unit }), undefined, `${workers} x ${conns} ${accept} under ${unit}`);
        }
      }
    }
  });
});
