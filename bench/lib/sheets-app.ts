// What the Sheets benchmarks share: corral's bundled app pointed at an emulator process, the
// requests they send, the warm-up, a bare server answering a captured body, and the arithmetic of
// "upstream calls per TTL window".

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client } from 'undici';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import { waitFor } from '../../test/helpers/corral.js';
import type { EmulatorProcess } from './emulator-proc.js';
import { load } from './load.js';
import { startBare, startCorralFor, type Running } from './servers.js';

export const PLAYERS_PATH = '/api/players';
export const LOGIN_PATH = '/api/login';
/** A real player of the emulator's default sheet, with the right code: every login answers 200. */
export const LOGIN_BODY = JSON.stringify({ name: 'Alice Martin', code: 'P001' });

export interface Route {
  readonly name: string;
  readonly path: string;
  readonly method: 'GET' | 'POST';
  readonly body?: string;
}

export const ROUTES: readonly Route[] = [
  { name: 'GET /api/players', path: PLAYERS_PATH, method: 'GET' },
  { name: 'POST /api/login', path: LOGIN_PATH, method: 'POST', body: LOGIN_BODY },
];

/**
 * Settings of corral in the Sheets benchmarks. CORRAL_RATE_LIMIT=0: the per-IP limit (100/min by
 * default) would turn a load generator on one IP into a stream of 429s. CORRAL_ACCESS_LOG=false:
 * gunicorn, the comparison, writes no access log by default either.
 */
export function corralSheetsEnv(emu: EmulatorProcess, ttlS: number): Record<string, string> {
  return { ...emu.env, SHEET_CACHE_TTL: String(ttlS), CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: 'false' };
}

/** corral's bundled app (the default CORRAL_APP) in front of `emu`. */
export function startCorralOnEmulator(workers: number, emu: EmulatorProcess, ttlS: number, extraEnv: Record<string, string> = {}): ReturnType<typeof startCorralFor> {
  return startCorralFor({ workers, env: { ...corralSheetsEnv(emu, ttlS), ...extraEnv } });
}

/**
 * One request; the status and body text. On a connection of its own, closed after the answer: one
 * left idle in fetch's pool held every stop of the server for ~3 s (a draining corral worker waits
 * for it), which was a good part of a short run with its many starts and stops.
 */
export async function send(base: string, route: Route): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}${route.path}`, {
    method: route.method,
    headers: { connection: 'close', ...(route.body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(route.body !== undefined ? { body: route.body } : {}),
  });
  return { status: res.status, text: await res.text() };
}

/**
 * The one warm-up request: waits (bounded) until the route answers 200, returns that body. On a
 * timeout the error says what the route last answered: the message used to be built before the
 * first request, so it always read "(last: )".
 */
export async function warmUp(base: string, route: Route, timeoutMs = 60_000): Promise<string> {
  let last = 'no answer yet';
  try {
    return await waitFor(
      async () => {
        const r = await send(base, route).catch((err: unknown) => ({ status: 0, text: String(err) }));
        last = `${r.status} ${r.text.slice(0, 200)}`;
        return r.status === 200 ? r.text : undefined;
      },
      timeoutMs,
      `${route.name} to answer 200 at ${base}`,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last: ${last})`);
  }
}

/**
 * Load on one route that nobody measures, so the measured rounds see the servers as a daemon runs:
 * with its hot paths compiled. From a cold start, the first 4 s of 100 connections served 10.8k
 * req/s at 164 µs of CPU per request on corral and 18.7k at 90 µs on the bare server; the fourth
 * such load 24k at 68 µs and 38k at 39 µs. One warm-up request left the first rounds measuring
 * the JIT, the coldest server most (issue 6).
 */
export async function warmLoad(base: string, route: Route, seconds: number): Promise<void> {
  if (seconds <= 0) return;
  await load(`${base}${route.path}`, { connections: 100, seconds, method: route.method, ...(route.body !== undefined ? { body: route.body } : {}) });
}

/**
 * How the ceilings accept connections: as corral does by default (CORRAL_ACCEPT=shared), each
 * worker its own (SCHED_NONE). With node:cluster's default, the master accepting and dealing them
 * out round-robin, the ceiling differed from corral in more than corral's own work: how the
 * connections were spread over the workers, which on a 2-core box moved the ratio by itself (GET
 * at 100 keep-alive connections measured 1.04 × such a "ceiling", 1.18 without keep-alive).
 */
export const CEILING_ACCEPT_ENV: Readonly<Record<string, string>> = { NODE_CLUSTER_SCHED_POLICY: 'none' };

/** The ceiling: a bare node:cluster server answering exactly `body` to every request. `env`: extra environment; by default the ceiling's accept (CEILING_ACCEPT_ENV). */
export async function startBareWithBody(workers: number, body: string, env: Record<string, string> = { ...CEILING_ACCEPT_ENV }): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-body-'));
  const file = join(dir, 'body.mjs');
  writeFileSync(file, `export const BODY = Buffer.from(${JSON.stringify(Buffer.from(body).toString('base64'))}, 'base64');\n`);
  const bare = await startBare(workers, pathToFileURL(file).href, env).catch((err: unknown) => {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: bare.url,
    ...(bare.pid !== undefined ? { pid: bare.pid } : {}),
    async stop() {
      await bare.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The login floor: a bare node:cluster server that logs in for real with nothing else (see
 * bench/fixtures/bare-cluster.mjs, BARE_LOGIN). `answered` is corral's login answer for LOGIN_BODY:
 * the floor answers the same player fields, so both send the same bytes but for the token.
 */
export async function startLoginFloor(workers: number, answered: string): Promise<Running> {
  const { name, code } = JSON.parse(LOGIN_BODY) as { name: string; code: string };
  const { player } = JSON.parse(answered) as { player: unknown };
  return startBare(workers, undefined, { ...CEILING_ACCEPT_ENV, BARE_LOGIN: JSON.stringify({ name, code, player }) });
}

/**
 * TTL windows in `elapsedS` seconds after a fill: a cache that refreshes a range at most once per
 * TTL makes at most floor(elapsed / TTL) + 1 calls in that time, whatever the phase; that is the
 * number of windows "≤ 1 upstream call per TTL window" is judged against.
 */
export function ttlWindows(elapsedS: number, ttlS: number): number {
  return Math.floor(elapsedS / ttlS) + 1;
}

/** The keeper's own figures (cache hits, misses that waited for upstream, ...), over its local socket. */
export async function keeperFigures(dataDir: string): Promise<Record<string, number>> {
  const client = new Client('http://keeper', { socketPath: keeperSocketPath(dataDir) });
  try {
    const res = await client.request({ method: 'GET', path: '/figures' });
    return (await res.body.json()) as Record<string, number>;
  } finally {
    await client.close();
  }
}
