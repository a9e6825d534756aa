// How far apart identical corrals measure (issue 6): the same build started several times, each
// with the bundled app in front of one emulator, and the bare ceiling, loaded in rotating rounds.
// Each copy's ratio to the ceiling is the median of its rounds' own ratios, as `compare` takes
// them. The copies run the same code with the same settings, so the spread of their ratios is the
// smallest difference one `compare` run can tell from noise: a change to the request path that
// moves the ratio by less than this has not been shown by one run.

import { cpuUsPerOk, treeCpuSeconds } from './lib/cpu.js';
import { startEmulatorProcess } from './lib/emulator-proc.js';
import { load, type LoadResult } from './lib/load.js';
import { machine, median, save, table } from './lib/report.js';
import { ROUTES, startBareWithBody, startCorralOnEmulator, warmLoad, warmUp, type Route } from './lib/sheets-app.js';
import { startTogether, type Running } from './lib/servers.js';

export interface SpreadBenchOptions {
  readonly seconds: number;
  readonly rounds: number;
  readonly workers: number;
  /** Identical corrals started side by side. */
  readonly copies: number;
  readonly connections: number;
  readonly warmupSeconds: number;
}

type Measured = LoadResult & { cpuUsPerOk: number };

export async function benchSpread(o: SpreadBenchOptions): Promise<void> {
  const route = ROUTES[0] as Route;
  console.log(
    `\n## spread: ${o.copies} identical corrals against the bare ceiling, ${route.name}, ${o.workers} workers, ${o.connections} connections, ` +
      `${o.rounds} rotating rounds of ${o.seconds} s after ${o.warmupSeconds} s of warm-up each\nmachine: ${machine()}\n`,
  );
  const stops: (() => Promise<void>)[] = [];
  try {
    const emu = await startEmulatorProcess({ latencyMs: 800 });
    stops.push(() => emu.stop());
    const servers: { name: string; server: Running }[] = [];
    // The copies start together, each filled by its one warm-up request (800 ms upstream).
    const started = await startTogether(
      Array.from({ length: o.copies }, () => async () => {
        const corral = await startCorralOnEmulator(o.workers, emu, 30);
        const body = await warmUp(corral.url, route).catch(async (err: unknown) => {
          await corral.stop();
          throw err;
        });
        return { corral, body };
      }),
      ({ corral }) => stops.push(() => corral.stop()),
    );
    started.forEach(({ corral }, i) => servers.push({ name: `corral ${String.fromCharCode(65 + i)}`, server: corral }));
    const bare = await startBareWithBody(o.workers, started.at(-1)?.body ?? '');
    stops.push(() => bare.stop());
    servers.unshift({ name: 'bare', server: bare });
    for (const s of servers) await warmLoad(s.server.url, route, o.warmupSeconds);

    const runs = new Map<string, Measured[]>(servers.map((s) => [s.name, []]));
    for (let round = 0; round < o.rounds; round++) {
      for (let i = 0; i < servers.length; i++) {
        const s = servers[(i + round) % servers.length] as (typeof servers)[number];
        const pid = s.server.pid ?? -1;
        const before = treeCpuSeconds(pid);
        const r = await load(`${s.server.url}${route.path}`, { connections: o.connections, seconds: o.seconds });
        const cpu = treeCpuSeconds(pid) - before;
        runs.get(s.name)?.push({ ...r, cpuUsPerOk: cpuUsPerOk(cpu, r) });
      }
    }
    const bareRuns = runs.get('bare') ?? [];
    const copies = servers.slice(1).map((s) => {
      const own = runs.get(s.name) ?? [];
      return {
        name: s.name,
        own,
        ratio: median(own.map((m, i) => m.rps / (bareRuns[i]?.rps ?? NaN))),
        extraCpu: median(own.map((m, i) => m.cpuUsPerOk - (bareRuns[i]?.cpuUsPerOk ?? NaN))),
      };
    });
    console.log(
      table(
        ['server', 'req/s (each round)', 'corral/bare (median of the rounds\' ratios)', 'CPU µs/2xx over bare (median)'],
        [
          ['bare', bareRuns.map((m) => Math.round(m.rps)).join('/'), '1.00', '+0.0'],
          ...copies.map((c) => [c.name, c.own.map((m) => Math.round(m.rps)).join('/'), c.ratio.toFixed(3), `+${c.extraCpu.toFixed(1)}`]),
        ],
      ),
    );
    const ratios = copies.map((c) => c.ratio);
    const spread = Math.max(...ratios) - Math.min(...ratios);
    console.log(`spread of corral/bare over ${o.copies} identical copies: ${Math.min(...ratios).toFixed(3)} to ${Math.max(...ratios).toFixed(3)} (${spread.toFixed(3)})`);
    console.log(`saved ${save('spread', { settings: o, runs: Object.fromEntries(runs), ratios, spread })}`);
  } finally {
    for (const stop of stops.reverse()) await stop();
  }
}
