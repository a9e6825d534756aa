// The server's RAM as the report charts it: at each fetch of the admin API, the figure measured
// nearest that moment. RAM is a reading at an instant (the master's, every 5 s), and the steps
// table judges it by when it was measured (segments.ts); charted as fetched, each reading was drawn
// up to 5 s late, a step's last reading over the next step, which then looked to fail on it.

import { firstAtOrAfter } from './cpu-covering.js';
import type { ServerSample } from './sampler.js';

/**
 * For each sample, the RAM of the measurement nearest its fetch (before or after), or its own
 * figure when the server does not say when it measured.
 */
export function ramNearestEach(samples: readonly ServerSample[]): (number | null)[] {
  const measured = samples
    .filter((s) => s.hostDated && s.ram !== null)
    .map((s) => ({ at: s.hostT, ram: s.ram as number }))
    .sort((a, b) => a.at - b.at);
  return samples.map((s) => {
    if (!s.hostDated) return s.ram;
    const i = firstAtOrAfter(measured, s.t);
    const after = measured[i];
    const before = measured[i - 1];
    if (!before) return after?.ram ?? s.ram;
    if (!after) return before.ram;
    return s.t - before.at <= after.at - s.t ? before.ram : after.ram;
  });
}
