// Loopback is decided on addresses: a host name that merely starts with "127." can resolve anywhere.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopbackAddress, isLoopbackHost } from '../../src/loopback.js';

describe('loopback', () => {
  it('accepts IP literals in 127.0.0.0/8, ::1 and IPv4-mapped 127.x, bracketed or not', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '127.255.255.255', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.9.9.9', '::ffff:7f00:1']) {
      assert.equal(isLoopbackAddress(a), true, a);
      assert.equal(isLoopbackHost(a), true, a);
    }
  });

  it('refuses other addresses, and host names that only look like loopback', () => {
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '126.255.255.255', '::2', 'fe80::1', '::ffff:10.0.0.1', '127.corp.example', '127.0.0.1.nip.io', '127.1', '127.0.0.1.', 'localhost.example', 'localhost.', 'LOCALHOST.corp']) {
      assert.equal(isLoopbackHost(a), false, a);
    }
  });

  it('takes "localhost", in any case (host names are case-insensitive), as a host, never as an address', () => {
    for (const h of ['localhost', 'LOCALHOST', 'LocalHost']) assert.equal(isLoopbackHost(h), true, h);
    assert.equal(isLoopbackAddress('localhost'), false);
  });
});
