// The keeper's socket file removed while it runs (an rm of the data dir): the bound socket took no
// new connection, and every worker that reconnected failed until a restart. relistenIfRemoved()
// binds the path again, handing the new connections to the same server; a file at the path that is
// not its socket is left alone.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readOpenFilesLimit } from '../../src/fd-limit.js';
import { KEEPER_LISTEN_BACKLOG, KeeperServer } from '../../src/sheets/keeper/server.js';
import { captureLogger, type CapturedLogger } from '../fixtures/capture-logger.js';

/** GET /read over the socket at `path`, on a new connection: the status, or the connection's error code. */
function read(path: string): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ socketPath: path, path: '/read?range=Players', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

describe('keeper socket removed while the keeper runs', () => {
  let root: string;
  let log: CapturedLogger;
  let server: KeeperServer;
  let socket: string;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), 'corral-keeper-socket-'));
    socket = join(root, 'data', 'keeper.sock');
    log = await captureLogger();
    const values = Buffer.from(JSON.stringify({ range: 'Players', values: [['name']] }));
    server = new KeeperServer(
      socket,
      { read: async () => [values], append: async () => ({ id: 'e1', rows: 1, duplicates: 0 }), watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }), settleLogin: async () => ({ shared: false, reason: 'none' }), figures: () => ({}) },
      log.logger,
      'digest',
    );
    mkdirSync(join(root, 'data'));
    await server.listen();
  });
  afterEach(async () => {
    await server.close();
    log.close();
    rmSync(root, { recursive: true, force: true });
  });

  it('is in place: nothing is done', async () => {
    assert.equal(await server.relistenIfRemoved(), undefined);
    assert.equal(await read(socket), 200);
  });

  it('removed with its data dir: new connections fail until it is bound again, then are served', async () => {
    rmSync(join(root, 'data'), { recursive: true });
    assert.equal(await read(socket), 'ENOENT');
    assert.equal(await server.relistenIfRemoved(), 'rebound');
    assert.equal(await read(socket), 200);
    assert.equal(await server.relistenIfRemoved(), undefined, 'the new socket is its own');
  });

  it('removed again and again: one listener more at most, not one per removal, and the connections already taken go on', async () => {
    // Each removal bound a listener and kept the one before, whose path was gone: a socket and an
    // fd each, for the keeper's life (a cleanup job removing the data dir nightly: one a day).
    // Listening sockets bound at this path, removed or not (the kernel keeps the name a socket was
    // bound to): Flags 00010000 is a listening one.
    const listening = () =>
      readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .filter((line) => line.endsWith(` ${socket}`) && line.trim().split(/\s+/)[3] === '00010000').length;
    const before = listening();
    rmSync(socket);
    assert.equal(await server.relistenIfRemoved(), 'rebound');
    // A keep-alive connection taken by this listener, as a worker's pool holds one.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const readKept = () =>
      new Promise<number>((resolve, reject) => {
        const req = request({ socketPath: socket, path: '/read?range=Players', agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });
    assert.equal(await readKept(), 200);
    const kept = listening();
    for (let i = 0; i < 5; i++) {
      rmSync(socket);
      assert.equal(await server.relistenIfRemoved(), 'rebound');
      assert.equal(await read(socket), 200, 'a new connection is served');
    }
    assert.equal(before, 1);
    assert.equal(kept, 2, 'the first rebind adds its listener; the server keeps its own');
    assert.equal(listening(), kept, `listening sockets after 5 more removals: ${listening()}, after the first: ${kept}`);
    assert.equal(await readKept(), 200, 'the connection the first listener took is still served');
    agent.destroy();
  });

  it('a check in flight when the keeper closes binds nothing that outlives close()', async () => {
    rmSync(join(root, 'data'), { recursive: true });
    // The check has begun (its stat is on its way) when close() runs: the listener it would bind
    // was not close()'s to close, and held the path and the process open.
    const checking = server.relistenIfRemoved();
    await server.close();
    assert.equal(await checking, undefined);
    assert.notEqual(await read(socket), 200, 'nobody answers at the path once closed');
  });

  it('another file at its path is not taken over', async () => {
    rmSync(socket);
    writeFileSync(socket, 'someone else');
    assert.equal(await server.relistenIfRemoved(), 'foreign');
  });
});

/** net.core.somaxconn, which caps any listen backlog; undefined where /proc cannot say. */
function somaxconn(): number | undefined {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8').trim());
  } catch {
    return undefined;
  }
}

const BURST = 1000;
const cap = somaxconn();
/** The burst's own process and this one (which accepts them) each hold a descriptor per connection. */
const openFiles = readOpenFilesLimit()?.soft;

function burstSkip(): string | false {
  if (cap === undefined || cap < BURST + 100) return `net.core.somaxconn is ${cap ?? 'unknown'}: the kernel holds any backlog under it`;
  if (openFiles !== undefined && openFiles < BURST + 100) return `the open-files limit is ${openFiles}: ${BURST} connections need more (ulimit -n)`;
  return false;
}

describe('the keeper socket under a burst of connections', () => {
  it(
    `queues ${BURST} connections opened at once while its loop is busy, rather than refuse them with EAGAIN`,
    { skip: burstSkip() },
    async () => {
      // Many workers each open several connections to the one keeper; a unix socket with a full
      // backlog refuses a connect() at once (EAGAIN), where TCP would retry. Node's default
      // backlog of 511 refused 488 of these 1000.
      assert.ok(KEEPER_LISTEN_BACKLOG >= 2 * 512 * 29);
      const root = mkdtempSync(join(tmpdir(), 'corral-keeper-burst-'));
      const log = await captureLogger();
      const socket = join(root, 'keeper.sock');
      const server = new KeeperServer(
        socket,
        { read: async () => [], append: async () => ({ id: 'e1', rows: 1, duplicates: 0 }), watch: async () => ({ version: 0, epoch: 'e', sheets: [], all: false }), settleLogin: async () => ({ shared: false, reason: 'none' }), figures: () => ({}) },
        log.logger,
        'digest',
      );
      try {
        await server.listen();
        // Another process connects, so that its connects are made while this loop is busy.
        const burst = `const { connect } = require('node:net'); const r = {}; let left = ${BURST}; const socks = [];
process.stdout.write('go\\n');
for (let i = 0; i < ${BURST}; i++) { const s = connect(${JSON.stringify(socket)}); socks.push(s);
  const done = (k) => { r[k] = (r[k] || 0) + 1; if (--left === 0) { process.stdout.write(JSON.stringify(r) + '\\n'); for (const x of socks) x.destroy(); } };
  s.once('connect', () => done('connected')); s.once('error', (e) => done(e.code)); }`;
        const child = spawn(process.execPath, ['-e', burst], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        const result = new Promise<Record<string, number>>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            out += d.toString();
            const line = out.split('\n').find((l) => l.startsWith('{'));
            if (line) resolve(JSON.parse(line) as Record<string, number>);
          });
          child.once('exit', () => setImmediate(() => reject(new Error(`the burst ended without a result: ${out}`))));
        });
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        // Busy for a moment (a large range parsed, a GC): nothing is accepted meanwhile.
        const until = Date.now() + 1500;
        while (Date.now() < until);
        const counts = await result;
        assert.deepEqual(counts, { connected: BURST }, `every connection queued until the keeper accepted it: ${JSON.stringify(counts)}`);
      } finally {
        await server.close();
        log.close();
        rmSync(root, { recursive: true, force: true });
      }
    },
  );
});
