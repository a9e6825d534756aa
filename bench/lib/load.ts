// Drives HTTP load from a separate process: wrk when installed (C, cheap on a 2-core box),
// otherwise autocannon (npm). Returns requests/s, latency percentiles and errors.

import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LoadResult {
  readonly tool: 'wrk' | 'autocannon';
  readonly connections: number;
  readonly keepAlive: boolean;
  readonly seconds: number;
  /** Answers received, whatever their status. */
  readonly requests: number;
  /** Successful (2xx) answers: `requests` less the non-2xx ones. What CPU per answer divides by (lib/cpu.ts). */
  readonly okAnswers: number;
  /**
   * Successful (2xx) answers per second. A server answering errors fast must not look fast:
   * wrk's own Requests/sec counts every answer (that figure is `answeredRps`).
   */
  readonly rps: number;
  readonly answeredRps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Transport errors plus non-2xx answers. */
  readonly errors: number;
}

export function haveWrk(): boolean {
  return spawnSync('wrk', ['--version'], { encoding: 'utf8' }).error === undefined;
}

function ms(text: string | undefined): number {
  if (!text) return NaN;
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : m[2] === 'm' ? v * 60000 : v;
}

/** Lua for wrk: the method and body, and, with `clients`, X-Forwarded-For cycling over that many addresses. */
function wrkScript(method: string, body: string | undefined, clients: number | undefined): string | undefined {
  if (method === 'GET' && body === undefined && clients === undefined) return undefined;
  let lua = `wrk.method = ${JSON.stringify(method)}\n`;
  if (body !== undefined) lua += `wrk.body = ${JSON.stringify(body)}\nwrk.headers["Content-Type"] = "application/json"\n`;
  if (clients !== undefined) {
    lua +=
      `local n = 0\n` +
      `request = function()\n` +
      `  n = (n + 1) % ${clients}\n` +
      `  return wrk.format(nil, nil, { ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256, math.floor(n / 256) % 256, n % 256) })\n` +
      `end\n`;
  }
  return lua;
}

async function wrk(url: string, connections: number, seconds: number, keepAlive: boolean, method: string, body: string | undefined, clients: number | undefined): Promise<LoadResult> {
  const threads = Math.min(2, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', '10s'];
  if (!keepAlive) args.push('-H', 'Connection: close');
  const lua = wrkScript(method, body, clients);
  const scriptDir = lua === undefined ? undefined : mkdtempSync(join(tmpdir(), 'wrk-'));
  if (lua !== undefined && scriptDir !== undefined) {
    const script = join(scriptDir, 'req.lua');
    writeFileSync(script, lua);
    args.push('-s', script);
  }
  args.push(url);
  let stdout: string;
  try {
    ({ stdout } = await run('wrk', args, { maxBuffer: 1 << 20 }));
  } finally {
    if (scriptDir !== undefined) rmSync(scriptDir, { recursive: true, force: true });
  }
  return wrkResult(stdout, connections, seconds, keepAlive);
}

/**
 * A load's figures from wrk's output. A load that got no answer at all has no latency: wrk prints
 * its empty histogram as 0.00us at every percentile, and a request left unanswered is not counted
 * anywhere (wrk 4.1 reports no timeout for it, whatever --timeout), so a server that hung or reset
 * every request read "p99 0.0 ms, 0 errors" and met the p99 goal. Its percentiles are NaN here.
 */
export function wrkResult(stdout: string, connections: number, seconds: number, keepAlive: boolean): LoadResult {
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const answeredRps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const p50 = requests > 0 ? ms(/\s50%\s+(\S+)/.exec(stdout)?.[1]) : NaN;
  const p99 = requests > 0 ? ms(/\s99%\s+(\S+)/.exec(stdout)?.[1]) : NaN;
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const socketErrors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  // Every socket error counts, without keep-alive too: wrk (4.1) does not count the server's
  // orderly close after a `Connection: close` answer as a read error (none in such loads of bare
  // node, corral and gunicorn alike), so a read error there is a reset the row must show.
  // A load with no answer at all failed each connection's request at least, though wrk counted
  // nothing (a hung server): errors, so that a row of rounds judged on their median shows it.
  const errors = requests > 0 ? non2xx + socketErrors : Math.max(non2xx + socketErrors, connections);
  const okAnswers = Math.max(0, requests - non2xx);
  const rps = requests > 0 ? (answeredRps * okAnswers) / requests : 0;
  return { tool: 'wrk', connections, keepAlive, seconds, requests, okAnswers, rps, answeredRps, p50Ms: p50, p99Ms: p99, errors };
}

async function autocannon(url: string, connections: number, seconds: number, keepAlive: boolean, method: string, body: string | undefined): Promise<LoadResult> {
  const { default: ac } = (await import('autocannon')) as unknown as { default: (o: object) => Promise<{ requests: { total: number; average: number }; latency: { p50: number; p99: number }; errors: number; timeouts: number; non2xx: number }> };
  const headers = { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(keepAlive ? {} : { connection: 'close' }) };
  const r = await ac({ url, connections, duration: seconds, method, headers, ...(body !== undefined ? { body } : {}) });
  const ok = Math.max(0, r.requests.total - r.non2xx);
  // autocannon's `errors` already includes its timeouts.
  return { tool: 'autocannon', connections, keepAlive, seconds, requests: r.requests.total, okAnswers: ok, rps: r.requests.total > 0 ? (r.requests.average * ok) / r.requests.total : 0, answeredRps: r.requests.average, p50Ms: r.requests.total > 0 ? r.latency.p50 : NaN, p99Ms: r.requests.total > 0 ? r.latency.p99 : NaN, errors: r.errors + r.non2xx };
}

export interface LoadOptions {
  readonly connections: number;
  readonly seconds: number;
  readonly keepAlive?: boolean;
  readonly method?: string;
  readonly body?: string;
  /** Spread requests over this many client addresses (X-Forwarded-For); needs wrk. */
  readonly clients?: number;
}

export async function load(url: string, o: LoadOptions): Promise<LoadResult> {
  const keepAlive = o.keepAlive ?? true;
  const method = o.method ?? 'GET';
  if (haveWrk()) return wrk(url, o.connections, o.seconds, keepAlive, method, o.body, o.clients);
  if (o.clients !== undefined) throw new Error('spreading requests over client addresses needs wrk (apt-get install wrk)');
  return autocannon(url, o.connections, o.seconds, keepAlive, method, o.body);
}
