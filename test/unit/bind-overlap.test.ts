import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bindsOverlap, clusterSharesLoopback } from '../../src/config/bind-overlap.js';

const at = (host: string, port = 8080) => ({ host, port });

test('the same port at a wildcard and a specific address of its family overlaps; two distinct specific addresses do not', () => {
  assert.equal(bindsOverlap(at('127.0.0.1'), at('0.0.0.0'), true), true);
  assert.equal(bindsOverlap(at('0.0.0.0'), at('127.0.0.1'), true), true);
  assert.equal(bindsOverlap(at('127.0.0.1'), at('127.0.0.2'), true), false);
  assert.equal(bindsOverlap(at('::1'), at('::'), true), true);
  assert.equal(bindsOverlap(at('::1'), at('0:0::1'), true), true, 'the same address spelt otherwise');
  assert.equal(bindsOverlap(at('127.0.0.1'), at('::ffff:127.0.0.1'), true), true, 'an IPv4-mapped address is its IPv4 one');
});

test('a :: listener takes IPv4 too, unless net.ipv6.bindv6only says otherwise; specific addresses of two families never overlap', () => {
  assert.equal(bindsOverlap(at('127.0.0.1'), at('::'), true), true);
  assert.equal(bindsOverlap(at('::'), at('0.0.0.0'), true), true);
  assert.equal(bindsOverlap(at('127.0.0.1'), at('::'), false), false);
  assert.equal(bindsOverlap(at('127.0.0.1'), at('::1'), true), false);
  assert.equal(bindsOverlap(at('0.0.0.0'), at('::1'), true), false);
});

test('another port, or port 0 (an ephemeral one), never overlaps; a host name cannot be told before it is resolved, localhost excepted', () => {
  assert.equal(bindsOverlap(at('127.0.0.1'), at('0.0.0.0', 8081), true), false);
  assert.equal(bindsOverlap(at('127.0.0.1', 0), at('0.0.0.0', 0), true), false);
  assert.equal(bindsOverlap(at('127.0.0.1'), at('app.internal'), true), undefined);
  assert.equal(bindsOverlap(at('app.internal'), at('0.0.0.0'), true), undefined);
  // localhost is loopback (RFC 6761), 127.0.0.1 or ::1 as the resolver orders them: either overlaps.
  assert.equal(bindsOverlap(at('127.0.0.1'), at('localhost'), true), true);
  assert.equal(bindsOverlap(at('LOCALHOST'), at('::1'), true), true);
  assert.equal(bindsOverlap(at('localhost'), at('0.0.0.0'), true), true);
  assert.equal(bindsOverlap(at('localhost'), at('127.0.0.2'), true), false);
  assert.equal(bindsOverlap(at('localhost'), at('localhost', 8081), true), false);
});

test('cluster workers on localhost share the socket of the loopback address it resolves to, or get one of their own beside the other: never refused; any other pair is judged by the overlap', () => {
  assert.equal(clusterSharesLoopback(at('127.0.0.1'), at('localhost')), true);
  assert.equal(clusterSharesLoopback(at('localhost'), at('127.0.0.1')), true);
  assert.equal(clusterSharesLoopback(at('::1'), at('LOCALHOST')), true);
  assert.equal(clusterSharesLoopback(at('localhost'), at('app.localhost')), true);
  // A wildcard overlaps whatever localhost resolves to.
  assert.equal(clusterSharesLoopback(at('0.0.0.0'), at('localhost')), false);
  assert.equal(clusterSharesLoopback(at('localhost'), at('::')), false);
  // Spelt otherwise than the resolver writes it, the address is another cluster key: a second bind of it is refused.
  assert.equal(clusterSharesLoopback(at('::ffff:127.0.0.1'), at('localhost')), false);
  assert.equal(clusterSharesLoopback(at('0:0::1'), at('localhost')), false);
  // No localhost on either side: the overlap alone decides.
  assert.equal(clusterSharesLoopback(at('127.0.0.1'), at('::1')), false);
});
