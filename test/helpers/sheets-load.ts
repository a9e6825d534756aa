// Clients for the multi-process Sheets tests: keep-alive readers with think time, the keeper's
// figures over its socket, and corral started in front of an emulator.

import { Agent, Client, request } from 'undici';
import { keeperSocketPath } from '../../src/sheets/keeper/socket-path.js';
import type { Emulator } from '../../src/sheets/emulator/index.js';
import type { ServiceAccountKey } from '../../src/sheets/google/credentials.js';
import { startCorral, type CorralProcess } from './corral.js';

export interface ReadAnswer {
  values: string[][];
  stale: boolean;
  staleSeconds: number;
  fetchedAt: number;
  worker: number;
}

export interface LoadResult {
  requests: number;
  errors: string[];
  latenciesMs: number[];
  staleAnswers: number;
  maxStaleSeconds: number;
  workers: Set<number>;
}

/**
 * `clients` keep-alive clients reading `path` in a loop (with a think time) until `durationMs`
 * ends. Latencies are recorded only for requests started after `warmupMs`.
 */
export async function load(base: string, path: string, clients: number, durationMs: number, thinkMs: number, warmupMs = 0): Promise<LoadResult> {
  const agent = new Agent({ connections: clients, keepAliveTimeout: 30_000 });
  const out: LoadResult = { requests: 0, errors: [], latenciesMs: [], staleAnswers: 0, maxStaleSeconds: 0, workers: new Set() };
  const started = Date.now();
  const end = started + durationMs;
  const one = async (i: number) => {
    // Spread the clients over the first think interval so they do not move in lockstep.
    await new Promise((r) => setTimeout(r, (i * thinkMs) / clients));
    let warm = false;
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      // Each client's first request opens its connection (accepted by the master, handed to a
      // worker): that cost is TCP and cluster, not the Sheets layer, so it is not in the latencies.
      const measured = warm && Date.now() - started >= warmupMs;
      warm = true;
      try {
        const res = await request(`${base}${path}`, { dispatcher: agent, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const text = await res.body.text();
        if (measured) out.latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        out.requests++;
        if (res.statusCode !== 200) {
          if (out.errors.length < 20) out.errors.push(`${res.statusCode} ${text.slice(0, 200)}`);
          continue;
        }
        const a = JSON.parse(text) as ReadAnswer;
        if (a.values.length < 2) out.errors.push(`short answer ${text.slice(0, 100)}`);
        if (a.stale) out.staleAnswers++;
        out.maxStaleSeconds = Math.max(out.maxStaleSeconds, a.staleSeconds);
        out.workers.add(a.worker);
      } catch (err) {
        out.requests++;
        if (out.errors.length < 20) out.errors.push(String((err as Error).message));
      }
      await new Promise((r) => setTimeout(r, thinkMs));
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, i) => one(i)));
  await agent.close();
  return out;
}

/** The keeper's own figures, read over its local socket. */
export async function keeperFigures(c: CorralProcess): Promise<Record<string, number>> {
  const client = new Client('http://keeper', { socketPath: keeperSocketPath(c.dataDir) });
  try {
    const res = await client.request({ method: 'GET', path: '/figures' });
    return (await res.body.json()) as Record<string, number>;
  } finally {
    await client.close();
  }
}

export function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function startWithEmulator(emu: Emulator, workers: number, env: Record<string, string>, o: { bundledApp?: boolean; unset?: readonly string[] } = {}): Promise<CorralProcess> {
  const key = emu.registerServiceAccount();
  // A corral that never became ready closes the emulator too (its close is idempotent): the tests
  // start it before their try, so their finally never ran, and its open server kept the test file
  // running until the runner's 15-minute file timeout.
  return startCorral({
    // Settings a CORRAL_ENV_FILE is to set (the environment would win over the file).
    ...(o.unset ? { unset: o.unset } : {}),
    // The fixture app by default; the bundled app for what its routes answer (503 sheets_unavailable).
    ...(o.bundledApp ? {} : { app: 'sheets-app.mjs' }),
    workers,
    env: {
      SHEET_ID: emu.spreadsheetId,
      SHEETS_API_URL: emu.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key),
      CORRAL_ACCESS_LOG: 'false',
      ...env,
    },
  }).catch(async (err: unknown) => {
    await emu.close();
    throw err;
  });
}


/**
 * One corral host of a sheet shared with others through Redis: the emulator's sheet, one service
 * account for every host (Google counts its quota whatever host calls), and REDIS_URL.
 */
export function startSheetHost(emu: Emulator, key: ServiceAccountKey, redisUrl: string, o: { app?: string; env?: Record<string, string> } = {}): Promise<CorralProcess> {
  return startCorral({
    ...(o.app ? { app: o.app } : {}),
    workers: 2,
    env: {
      SHEET_ID: emu.spreadsheetId,
      SHEETS_API_URL: emu.url,
      GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(key),
      REDIS_URL: redisUrl,
      CORRAL_ACCESS_LOG: 'false',
      ...o.env,
    },
  });
}
