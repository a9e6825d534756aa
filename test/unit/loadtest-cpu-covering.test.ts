// The report's CPU chart: each fetch charted with the figure whose span holds its moment, as the
// steps table judges them, not with the figure fetched then, which describes the seconds before it.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { cpuCoveringEach } from '../../src/loadtest/cpu-covering.js';
import type { ServerSample } from '../../src/loadtest/sampler.js';

const fetched = (t: number, hostT: number, cpu: number | null, hostDated = true): ServerSample => ({ t, cpu, ram: 20, hostT, hostDated, connections: 1, maxConnections: 100, status: 'LOW' });

it('charts each fetch with the first measurement at or after it, null after the last one, and undated figures as fetched', () => {
  // The master measures every 5 s: at -2 s (the idle host before the run: 3 %), at 3 s (the load's
  // first 5 s: 60 %), at 8 s (70 %). Fetches every second carry the latest one.
  const samples = [
    fetched(0, -2000, 3),
    fetched(1000, -2000, 3),
    fetched(2000, -2000, 3),
    fetched(3500, 3000, 60),
    fetched(4500, 3000, 60),
    fetched(8500, 8000, 70),
    fetched(9500, 8000, 70),
  ];
  // Before, the chart read [3, 3, 3, 60, 60, 70, 70]: the run's first 3 s as idle. The last two
  // fetches come after the last measurement: what the CPU did then was not measured.
  assert.deepEqual(cpuCoveringEach(samples), [60, 60, 60, 70, 70, null, null]);
  // A server that does not date its figures: as fetched.
  assert.deepEqual(cpuCoveringEach([fetched(0, 0, 12, false), fetched(1000, 1000, 40, false)]), [12, 40]);
  // The master's first measurement has no CPU yet (it needs two readings): not a figure to chart.
  assert.deepEqual(cpuCoveringEach([fetched(0, -500, null), fetched(1000, 900, 45)]), [45, null]);
});
