// The keeper's memory while every worker exports one large tab at once (GET /api/export of a tab
// of `rows` rows, one request per worker, cold cache): the keeper fetches the tab once and answers
// each worker with it. Reports the keeper's peak RSS (VmHWM) against its RSS before the exports,
// and the largest worker's peak. Linux only (reads /proc). A worker holds the parsed tab only while
// it streams (the export's read keeps no copy in its L1: ReadOptions `keep: false`); a peak does not
// show what it keeps after, and this section does not measure that.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulatorProcess } from './lib/emulator-proc.js';
import { machine, save, table } from './lib/report.js';
import { startCorralFor } from './lib/servers.js';

export interface ExportMemoryOptions {
  readonly rows: number;
  readonly workers: number;
}

const ADMIN_TOKEN = 'bench-export-memory-token';
const MB = 1024 * 1024;

/** Events-like rows: five short cells. */
function seedFile(dir: string, rows: number): string {
  const events: string[][] = [['event_id', 'player', 'kind', 'detail', 'at']];
  for (let i = 0; i < rows; i++) events.push([`E${String(i).padStart(7, '0')}`, `P${String(i % 997).padStart(3, '0')}`, i % 3 ? 'scored' : 'joined', `detail number ${i} of the season`, '2024-01-15T09:00:00Z']);
  const file = join(dir, 'seed.json');
  writeFileSync(file, JSON.stringify({ spreadsheetId: 'bench-export-memory', sheets: { Players: [['name', 'code']], Events: events } }));
  return file;
}

/** Peak and current RSS of a process, in bytes (VmHWM, VmRSS). */
function rss(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) * 1024;
  return { peak: kb('VmHWM'), now: kb('VmRSS') };
}

/** Children of `parent` whose command line names `script`. */
function childrenRunning(parent: number, script: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(script)) pids.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

export async function benchExportMemory(o: ExportMemoryOptions): Promise<void> {
  console.log(
    `\n## export-memory: ${o.workers} concurrent GET /api/export of a ${o.rows}-row tab, cold cache\nmachine: ${machine()}\n` +
      `corral: bundled app, ${o.workers} workers; upstream: corral emulator, no latency, no read quota; the ${o.workers} exports are sent at once and the kernel spreads them over the workers\n`,
  );
  // Peaks are read from /proc: elsewhere the section says so and the run goes on with the next.
  if (process.platform !== 'linux') {
    console.log(`export-memory: skipped: it reads the processes' peak memory from /proc, which ${process.platform} has not`);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-export-'));
  const emu = await startEmulatorProcess({ latencyMs: 0, readsPerMinute: 0, sheetFile: seedFile(dir, o.rows) });
  try {
    const server = await startCorralFor({ workers: o.workers, env: { ...emu.env, CORRAL_ADMIN_TOKEN: ADMIN_TOKEN, CORRAL_RATE_LIMIT: '0', CORRAL_ACCESS_LOG: 'false', SHEETS_TIMEOUT: '60' } });
    try {
      await server.corral.waitForLog((l) => l.event === 'keeper.ready', 60_000, 'keeper.ready');
      const [keeper] = childrenRunning(server.corral.pid, 'keeper-entry');
      if (keeper === undefined) throw new Error('no keeper process found');
      const before = rss(keeper).now;
      const started = Date.now();
      // Connection: close, so that no idle connection in fetch's pool holds the stop below (~3 s).
      const sizes = await Promise.all(
        Array.from({ length: o.workers }, async () => {
          const res = await fetch(`${server.url}/api/export?sheet=Events`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'accept-encoding': 'identity', connection: 'close' } });
          if (res.status !== 200) throw new Error(`export answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
          return (await res.arrayBuffer()).byteLength;
        }),
      );
      const ms = Date.now() - started;
      const peak = rss(keeper).peak;
      const workerPeak = Math.max(0, ...childrenRunning(server.corral.pid, 'worker').map((pid) => rss(pid).peak));
      const result = { rows: o.rows, workers: o.workers, csvBytes: sizes[0] ?? 0, ms, keeperRssBeforeMb: before / MB, keeperPeakRssMb: peak / MB, workerPeakRssMb: workerPeak / MB };
      console.log(
        table(
          ['rows', 'exports at once', 'CSV MB', 'ms', 'keeper RSS before', 'keeper peak RSS', 'peak / before', 'largest worker peak'],
          [[o.rows, o.workers, ((sizes[0] ?? 0) / MB).toFixed(1), ms, `${(before / MB).toFixed(0)} MB`, `${(peak / MB).toFixed(0)} MB`, (peak / before).toFixed(1), `${(workerPeak / MB).toFixed(0)} MB`]],
        ),
      );
      console.log(`saved ${save('export-memory', result)}`);
    } finally {
      await server.stop();
    }
  } finally {
    await emu.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
