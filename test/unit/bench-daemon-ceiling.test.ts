// The daemon section's ceiling must accept connections as corral does by default
// (CORRAL_ACCEPT=shared: each worker accepts on the shared socket), as compare's ceilings do; with
// node:cluster's default the master accepts and deals connections out, and corral/bare measured
// the difference between the two accept policies too.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { test } from 'node:test';
import { start } from '../../bench/daemon.js';

function children(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
}

/** Inodes of the sockets listening on `port` (IPv4 and IPv6). */
function listeningInodes(port: number): Set<string> {
  const out = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1] ?? '';
      if (f[3] === '0A' && Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port) out.add(f[9] ?? '');
    }
  }
  return out;
}

function holdsAny(pid: number, inodes: Set<string>): boolean {
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1] ?? '')) return true;
    } catch {
      // closed while listed
    }
  }
  return false;
}

test("daemon's bare ceiling: its workers accept their own connections, as corral's do by default", { skip: process.platform !== 'linux' }, async () => {
  const bare = await start('bare', 1);
  try {
    const port = Number(new URL(bare.url).port);
    const workers = children(bare.pid ?? -1);
    assert.equal(workers.length, 1);
    assert.ok(holdsAny(workers[0] as number, listeningInodes(port)), 'the worker holds no listening socket: the master accepts (round-robin), unlike corral by default');
  } finally {
    await bare.stop();
  }
});
