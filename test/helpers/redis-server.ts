// A real redis-server for tests, on a unix socket in its own temp dir (no port to race for), with
// nothing saved to disk; with `tls`, also on a TLS port, its certificate signed by a CA of its own. Tests that need one skip, saying why, where Debian's redis-server is not
// installed (.ci/run installs it).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach } from 'node:test';
import { freePort } from './ports.js';
import { makeCertificates } from './test-certs.js';

export const REDIS_SERVER = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'].find((p) => existsSync(p));

/** Why Redis tests cannot run here, or undefined when they can. */
export const redisMissing: string | undefined = REDIS_SERVER ? undefined : 'redis-server is not installed (apt-get install redis-server; .ci/run does)';

export interface RedisServer {
  /** REDIS_URL for corral. */
  readonly url: string;
  /**
   * With `tls`: its TLS port on 127.0.0.1 (and 127.0.0.2, an address its certificate does not
   * name), its certificate naming 127.0.0.1 and localhost.
   */
  readonly tls?: { readonly port: number; readonly caFile: string };
  readonly socket: string;
  /** Runs redis-cli against it and returns its output. */
  cli(...args: string[]): string;
  /** Stops it (SIGKILL): clients see the connection drop. */
  kill(): Promise<void>;
  /** Starts it again on the same socket, empty. */
  restart(): Promise<void>;
  /** Freezes it (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

async function waitForSocket(socket: string, child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}): ${output()}`);
    if (existsSync(socket) && spawnSync('redis-cli', ['-s', socket, 'PING'], { encoding: 'utf8' }).stdout.trim() === 'PONG') return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`redis-server did not answer on ${socket} within 5 s: ${output()}`);
}

/** Why TLS Redis tests cannot run here (openssl makes their certificates), or undefined. */
export const redisTlsMissing: string | undefined = redisMissing ?? (spawnSync('openssl', ['version']).status === 0 ? undefined : 'openssl is not installed (apt-get install openssl; .ci/run does)');


export async function startRedis(options: { readonly tls?: boolean } = {}): Promise<RedisServer> {
  if (!REDIS_SERVER) throw new Error(redisMissing);
  if (options.tls && redisTlsMissing) throw new Error(redisTlsMissing);
  const dir = mkdtempSync(join(tmpdir(), 'corral-redis-'));
  const socket = join(dir, 'redis.sock');
  let tls: { port: number; caFile: string } | undefined;
  const tlsArgs: string[] = [];
  if (options.tls) {
    const certs = makeCertificates(dir);
    tls = { port: await freePort(), caFile: certs.caFile };
    tlsArgs.push('--tls-port', String(tls.port), '--bind', '127.0.0.1', '127.0.0.2', '--tls-cert-file', certs.certFile, '--tls-key-file', certs.keyFile, '--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'no');
  }
  let child: ChildProcess | undefined;
  const launch = async () => {
    let out = '';
    const c = spawn(REDIS_SERVER, ['--port', '0', '--unixsocket', socket, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', dir, ...tlsArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    c.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    c.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child = c;
    await waitForSocket(socket, c, () => out);
  };
  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
    rmSync(socket, { force: true });
  };
  try {
    await launch();
  } catch (err) {
    // Not answering: killed, or it held the test file's process (its pipes) until the runner's
    // per-file timeout, and outlived it.
    await kill();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `unix://${socket}`,
    ...(tls ? { tls } : {}),
    socket,
    cli: (...args) => spawnSync('redis-cli', ['-s', socket, ...args], { encoding: 'utf8' }).stdout,
    kill,
    restart: launch,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A redis-server for the describe block this is called in: started before its tests, emptied
 * before each, stopped after them. Returns the server (valid from the first test on).
 */
export function redisPerSuite(): () => RedisServer {
  let redis: RedisServer | undefined;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.stop();
  });
  beforeEach(() => {
    redis?.cli('FLUSHALL');
  });
  return () => {
    if (!redis) throw new Error('redis-server not started (redisPerSuite is used inside a describe block)');
    return redis;
  };
}
