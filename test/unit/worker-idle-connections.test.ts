// Which connections give way at the cap, with fake sockets and a clock the test moves: a
// keep-alive connection counts idle only ANSWERED_GRACE_MS after its answer with nothing read
// since. A busy worker reads a client's next request a turn of its loop after it came: counted
// idle at once, every connection of a client that sends at once (a load balancer's pool) read as
// idle, the capacity said LOW at 100 % CPU, and at the cap a new client closed one of them with a
// request waiting on it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBusyPeak } from '../../src/worker/busy-peak.js';
import { ANSWERED_GRACE_MS, SILENT_GRACE_MS, createIdleConnections, type TrackedSocket } from '../../src/worker/idle-connections.js';

/** A connection between requests as node:http leaves it: no response, no request underway, nothing left to write. */
function fakeSocket(name: string): TrackedSocket & { name: string } {
  return { name, bytesRead: 100, destroyed: false, writableLength: 0, _httpMessage: null, parser: { duration: () => 0 } } as unknown as TrackedSocket & { name: string };
}

describe('idle connections', () => {
  it('a keep-alive connection is idle once the grace has passed since its answer, not before', () => {
    const idle = createIdleConnections();
    const a = fakeSocket('a');
    idle.answered(a, 0);
    assert.equal(idle.first(ANSWERED_GRACE_MS - 1), undefined, 'within the grace its next request may be waiting unread');
    assert.equal(idle.count(ANSWERED_GRACE_MS - 1), 0);
    assert.equal(idle.first(ANSWERED_GRACE_MS), a);
    assert.equal(idle.count(ANSWERED_GRACE_MS), 1);
  });

  it('the longest idle gives way first, and one answered again starts its grace again', () => {
    const idle = createIdleConnections();
    const [a, b] = [fakeSocket('a'), fakeSocket('b')];
    idle.answered(a, 0);
    idle.answered(b, 100);
    idle.answered(a, 500);
    assert.equal(idle.first(ANSWERED_GRACE_MS + 200), b, 'b was answered longest ago');
    assert.equal(idle.count(ANSWERED_GRACE_MS + 200), 1, 'a is within its grace again');
    assert.equal(idle.count(ANSWERED_GRACE_MS + 500), 2);
  });

  it('one whose next request has begun to be read is not idle, however long ago its answer left', () => {
    const idle = createIdleConnections();
    const a = fakeSocket('a');
    idle.answered(a, 0);
    (a as { bytesRead: number }).bytesRead += 5;
    assert.equal(idle.first(10 * ANSWERED_GRACE_MS), undefined);
    assert.equal(idle.count(10 * ANSWERED_GRACE_MS), 0);
  });

  it('one whose answer is still being written is not idle', () => {
    const idle = createIdleConnections();
    const a = fakeSocket('a');
    idle.answered(a, 0);
    (a as { writableLength: number }).writableLength = 4096;
    assert.equal(idle.first(10 * ANSWERED_GRACE_MS), undefined);
  });

  it('a connection that has sent nothing is idle after its own grace, after the keep-alive ones', () => {
    const idle = createIdleConnections();
    const silent = fakeSocket('silent');
    (silent as { bytesRead: number }).bytesRead = 0;
    const a = fakeSocket('a');
    idle.accepted(silent, 0);
    idle.answered(a, 0);
    const later = Math.max(SILENT_GRACE_MS, ANSWERED_GRACE_MS);
    assert.equal(idle.first(later), a, 'the keep-alive one first: it had its answer');
    assert.equal(idle.count(later), 2);
  });
});

describe('busy peak', () => {
  it('counts connections answered within the grace as busy: a steady load on every slot reads as every slot busy', () => {
    const idle = createIdleConnections();
    const peak = createBusyPeak(idle);
    const sockets = Array.from({ length: 200 }, (_, i) => fakeSocket(String(i)));
    // 200 connections, each answered within the last 20 ms and sent its next request at once, the next still unread.
    sockets.forEach((s, i) => idle.answered(s, i / 10));
    peak.rose(200, 20);
    assert.equal(peak.take(200 - idle.count(20)), 200, 'every slot busy (it read 2 of 200 before)');
  });

  it('keep-alive connections a client holds without using them are not in the peak', () => {
    const idle = createIdleConnections();
    const peak = createBusyPeak(idle);
    const sockets = Array.from({ length: 10 }, (_, i) => fakeSocket(String(i)));
    for (const s of sockets) idle.answered(s, 0);
    const now = ANSWERED_GRACE_MS + 10;
    peak.rose(10, now);
    assert.equal(peak.take(10 - idle.count(now)), 0);
  });
});
