// The admin API's CPU, RAM and connection figures over a step: as measured, unrounded (what the
// criteria are judged on), and as shown, one decimal never rounded up to a limit (the steps table,
// result.json, the report). A file of its own: the figures a step is judged on and those shown of it
// come from the same samples, with the rule between them in one place.

import { CRITERIA } from './criteria.js';
import { maxOf } from './extremes.js';
import type { ServerSample } from './sampler.js';

export interface ServerFigures {
  readonly cpuMean: number | null;
  readonly cpuMax: number | null;
  readonly ramMax: number | null;
  readonly connectionsMax: number | null;
}

/** The figures as measured, unrounded: what the criteria are judged on. */
export function measuredFigures(samples: readonly ServerSample[]): ServerFigures {
  const vals = (f: (s: ServerSample) => number | null): number[] => samples.map(f).filter((v): v is number => v !== null);
  const cpu = vals((s) => s.cpu);
  const ram = vals((s) => s.ram);
  const conn = vals((s) => s.connections);
  return {
    cpuMean: cpu.length ? cpu.reduce((a, b) => a + b, 0) / cpu.length : null,
    cpuMax: cpu.length ? maxOf(cpu) : null,
    ramMax: ram.length ? maxOf(ram) : null,
    connectionsMax: conn.length ? maxOf(conn) : null,
  };
}

/**
 * One decimal, as result.json keeps it; a figure under its limit is cut rather than rounded up to
 * it (79.96 is 79.9, not 80.0), by the rule formatPercent (criteria.ts) follows: a passing 80.0
 * reads as a failure.
 */
function shown(n: number | null, limit: number): number | null {
  if (n === null) return null;
  const rounded = Math.round(n * 10) / 10;
  return n < limit && rounded >= limit ? Math.floor(n * 10) / 10 : rounded;
}

/** The figures for display and result.json; the criteria are judged on the unrounded ones. */
export function serverFigures(samples: readonly ServerSample[]): ServerFigures {
  return displayed(measuredFigures(samples));
}

export function displayed(m: ServerFigures): ServerFigures {
  return {
    cpuMean: shown(m.cpuMean, CRITERIA.cpuPercent),
    cpuMax: shown(m.cpuMax, CRITERIA.cpuPercent),
    ramMax: shown(m.ramMax, CRITERIA.ramPercent),
    connectionsMax: m.connectionsMax,
  };
}
