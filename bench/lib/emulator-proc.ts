// The Sheets API emulator as its own process (`corral emulator`), as an operator would run it: the
// servers under test reach it over loopback HTTP, and its upstream-call counters are read over
// GET /__emulator/counters. One emulator per server under test, so neither Google's per-minute
// quota nor the call counts of one server leak into another's figures.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmulatorCounters, ReadCall } from '../../src/sheets/emulator/index.js';
import { killOnExit } from './orphan-guard.js';
import { CORRAL_BIN } from '../../test/helpers/corral.js';

export interface EmulatorProcess {
  readonly url: string;
  readonly spreadsheetId: string;
  /** Service-account key file (token_uri = this emulator), shared as writer on the sheet. */
  readonly keyFile: string;
  /** Settings that point corral (or the Flask app) at this emulator. */
  readonly env: Readonly<Record<string, string>>;
  counters(): Promise<EmulatorCounters>;
  /** The read calls that arrived since `since` (ms since the epoch), with their ranges. */
  reads(since: number): Promise<ReadCall[]>;
  /** Google's per-minute quotas as at a minute's start: a load does not inherit the one before's. */
  resetQuotas(): Promise<void>;
  stop(): Promise<void>;
}

export interface EmulatorProcessOptions {
  readonly latencyMs: number;
  /** The project's read quota: Google's default is 300 per minute; kept unless told otherwise. */
  readonly readsPerMinute?: number;
  /** Seed file (`corral emulator --sheet-file`); the emulator's small default sheet without it. */
  readonly sheetFile?: string;
}

/**
 * The most reads of one range that fell within one TTL of each other (a window [t, t + TTL) from
 * each read), over every range the calls name: 1 when no range was read again within a TTL.
 */
export function mostReadsInTtl(reads: readonly ReadCall[], ttlMs: number): number {
  const byRange = new Map<string, number[]>();
  for (const r of reads) for (const range of r.ranges) (byRange.get(range) ?? byRange.set(range, []).get(range)!).push(r.at);
  let most = 0;
  for (const times of byRange.values()) most = Math.max(most, mostWithin(times, ttlMs));
  return most;
}

/** The most of `times` (ms) within any window shorter than `windowMs`. */
export function mostWithin(times: readonly number[], windowMs: number): number {
  const at = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let from = 0, i = 0; i < at.length; i++) {
    while (at[i]! - at[from]! >= windowMs) from++;
    most = Math.max(most, i - from + 1);
  }
  return most;
}

/** Upstream read calls (values.get + values.batchGet) in a counters snapshot. */
export function readCalls(c: EmulatorCounters): number {
  return c.calls['values.get'] + c.calls['values.batchGet'];
}

export async function startEmulatorProcess(o: EmulatorProcessOptions): Promise<EmulatorProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-emu-'));
  const keyFile = join(dir, 'key.json');
  const args = [CORRAL_BIN, 'emulator', '--port', '0', '--latency-ms', String(o.latencyMs), '--key-out', keyFile];
  if (o.readsPerMinute !== undefined) args.push('--reads-per-minute', String(o.readsPerMinute));
  // The project's quota alone, as the operator's account of the old setup states it (300 a
  // minute per project) and as every earlier run measured. Google's per-user 60 would refuse the
  // gunicorn app's stampedes more often (it reads as one service account), and its failed
  // requests would raise corral/gunicorn for a reason that is not corral's speed.
  args.push('--reads-per-minute-per-user', '0', '--writes-per-minute-per-user', '0');
  if (o.sheetFile !== undefined) args.push('--sheet-file', o.sheetFile);
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  killOnExit(proc);
  const started = await new Promise<{ url: string; spreadsheetId: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGTERM');
      reject(new Error(`corral emulator did not start in 30 s:\n${out}${err}`));
    }, 30_000);
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      // The "control:" line is printed last, after the key file is written.
      const url = /listening on (\S+)/.exec(out)?.[1];
      const id = /spreadsheet (\S+):/.exec(out)?.[1];
      if (url && id && out.includes('control:')) {
        clearTimeout(timer);
        resolve({ url, spreadsheetId: id });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`corral emulator exited ${code}:\n${out}${err}`));
    });
  });
  proc.stdout?.resume();
  return {
    ...started,
    keyFile,
    env: { SHEET_ID: started.spreadsheetId, SHEETS_API_URL: started.url, GOOGLE_APPLICATION_CREDENTIALS: keyFile },
    async counters() {
      const res = await fetch(`${started.url}/__emulator/counters`);
      if (!res.ok) throw new Error(`emulator counters: HTTP ${res.status}`);
      return (await res.json()) as EmulatorCounters;
    },
    async reads(since) {
      const res = await fetch(`${started.url}/__emulator/reads?since=${since}`);
      if (!res.ok) throw new Error(`emulator reads: HTTP ${res.status}`);
      return (await res.json()) as ReadCall[];
    },
    async resetQuotas() {
      const res = await fetch(`${started.url}/__emulator/quotas/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`emulator quotas reset: HTTP ${res.status}`);
      await res.arrayBuffer();
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
