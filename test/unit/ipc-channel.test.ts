// The typed IPC channel: what counts as a message handed to the peer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childChannel } from '../../src/ipc/channel.js';

function endpoint(send: (m: object) => boolean, connected = true) {
  const sent: object[] = [];
  return { sent, ep: { connected, send: (m: object) => (sent.push(m), send(m)), on: () => undefined } };
}

test('a backlogged channel (send() returns false, the message is queued) still counts as sent', () => {
  const { ep, sent } = endpoint(() => false);
  assert.equal(childChannel(ep).send({ type: 'drained' }), true);
  assert.deepEqual(sent, [{ tag: 'corral', type: 'drained' }]);
});

test('no channel, or a send that throws, is not sent', () => {
  assert.equal(childChannel(endpoint(() => true, false).ep).send({ type: 'drained' }), false);
  const throwing = endpoint(() => {
    throw new Error('EPIPE');
  });
  assert.equal(childChannel(throwing.ep).send({ type: 'drained' }), false);
});
