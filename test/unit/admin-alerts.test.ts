import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { memoryLogger } from '../fixtures/memory-logger.js';
import { CAPACITY_RECOVER_MS, createAlerts } from '../../src/master/alerts.js';
import { computeCapacity } from '../../src/master/capacity.js';
import type { HostSample } from '../../src/master/host-monitor.js';


const cap = (current: number) => computeCapacity({ activeConnections: [current], workers: 1, workerConnections: 100, maxConnections: 0, serving: true });
const host = (cpu: number, ram: number): HostSample => ({ at: Date.now(), cpuPercent: cpu, ramPercent: ram, ramUsedBytes: 1, ramTotalBytes: 2, cpuCount: 2 });
const flush = () => new Promise((r) => setImmediate(r));

describe('alerts', () => {
  it('logs each capacity level once per crossing, with hysteresis', async () => {
    const { logger, lines } = memoryLogger();
    // The bands alone: no time under them is asked for (the next test asks for it).
    const alerts = createAlerts(logger, { ramAlertPercent: 90, recoverAfterMs: 0 });
    for (const n of [10, 50, 79, 80, 81, 80, 82, 79, 96, 100, 120, 100, 97, 94, 90, 96, 70, 85]) alerts.observe(cap(n), undefined);
    await flush();
    assert.deepEqual(
      lines.map((l) => `${String(l.event)}@${String(l.threshold)}`),
      ['capacity.alert@80', 'capacity.alert@95', 'capacity.alert@100', 'capacity.recovered@100', 'capacity.recovered@80', 'capacity.recovered@95', 'capacity.alert@80'],
    );
    assert.equal(lines[2]?.level, 50, '100 % is logged as an error');
    assert.equal(lines[0]?.level, 40, '80 % is logged as a warning');
    assert.deepEqual(lines.slice(0, 3).map((l) => l.code), [undefined, 'CORRAL_ERR_CAPACITY', 'CORRAL_ERR_CAPACITY'], 'the error lines (95 and 100 %) carry their code');
    assert.equal(alerts.active().capacity.join(','), '80');
  });

  it('alerts FULL when connections were refused in the last interval though few are busy at the beats, and recovers when the refusals stop', async () => {
    const { logger, lines } = memoryLogger();
    const alerts = createAlerts(logger, { ramAlertPercent: 90, recoverAfterMs: 0 });
    const beat = (busy: number, refused: number, idleClosed = 0) => computeCapacity({ activeConnections: [busy], peakBusyConnections: [busy], refusedInInterval: [refused], idleClosedInInterval: [idleClosed], workers: 1, workerConnections: 100, maxConnections: 0, serving: true });
    alerts.observe(beat(5, 300), undefined);
    alerts.observe(beat(5, 0), undefined);
    alerts.observe(beat(5, 0, 40), undefined);
    alerts.observe(beat(5, 0), undefined);
    await flush();
    assert.deepEqual(
      lines.map((l) => `${String(l.event)}@${String(l.threshold)}`),
      ['capacity.alert@80', 'capacity.alert@95', 'capacity.alert@100', 'capacity.recovered@80', 'capacity.recovered@95', 'capacity.recovered@100', 'capacity.alert@80', 'capacity.recovered@80'],
    );
    assert.equal(lines[2]?.refused_last_interval, 300);
    assert.match(String(lines[2]?.msg), /300 refused.*new connections are refused/);
    assert.equal(lines[6]?.idle_closed_last_interval, 40, 'idle connections closed to admit new ones: WARNING');
    // Not "capacity at 5% ...: passed 80%": the line says what made it count as 80 %.
    assert.equal(String(lines[6]?.msg), 'capacity tight: every slot was held, and 40 idle connections closed to admit new ones (5/100 busy, 5%, 0 idle): counted as 80%');
    // Every slot busy is FULL by the share itself: the line says so, not "counted as" by closures.
    alerts.observe(beat(100, 0, 7), undefined);
    await flush();
    const full = lines.filter((l) => l.event === 'capacity.alert' && l.threshold === 100).at(-1);
    assert.match(String(full?.msg), /^capacity at 100% \(100\/100 busy, 0 idle, 7 idle closed to admit new ones\): passed 100%/);
  });

  it(`recovers a capacity level only after ${CAPACITY_RECOVER_MS / 1000} s under its band: refusals in every other beat of an overload are one alert, not one per beat`, async () => {
    const { logger, lines } = memoryLogger();
    let ms = 0;
    const alerts = createAlerts(logger, { ramAlertPercent: 90, now: () => ms });
    const beat = (busy: number, refused: number) => computeCapacity({ activeConnections: [busy], peakBusyConnections: [busy], refusedInInterval: [refused], workers: 1, workerConnections: 100, maxConnections: 0, serving: true });
    // A minute of steady overload: refused in one beat, none in the next (the figure 100 %, then
    // 20 %), the last beat refused.
    for (let s = 0; s <= 60; s++) {
      alerts.observe(beat(20, s % 2 === 0 ? 50 : 0), undefined);
      ms += 1000;
    }
    await flush();
    const said = () => lines.map((l) => `${String(l.event)}@${String(l.threshold)}`);
    assert.deepEqual(said(), ['capacity.alert@80', 'capacity.alert@95', 'capacity.alert@100'], 'one crossing, held');
    assert.deepEqual(alerts.active().capacity, [80, 95, 100]);
    // The load ends: recovered once under the bands for the whole hold, each level once.
    for (let s = 0; s * 1000 < CAPACITY_RECOVER_MS; s++) {
      alerts.observe(beat(20, 0), undefined);
      ms += 1000;
    }
    await flush();
    assert.equal(lines.length, 3, 'not yet: under the band for less than the hold');
    alerts.observe(beat(20, 0), undefined);
    await flush();
    assert.deepEqual(said().slice(3), ['capacity.recovered@80', 'capacity.recovered@95', 'capacity.recovered@100']);
    assert.equal(lines[3]?.under_for_s, CAPACITY_RECOVER_MS / 1000);
    assert.match(String(lines[3]?.msg), new RegExp(`^capacity back under 80% \\(20%\\) for ${CAPACITY_RECOVER_MS / 1000} s$`));
    assert.deepEqual(alerts.active().capacity, []);
  });

  it('judges thresholds on the exact ratio: 7996 of 8000 is no "refused" alert, 94.96 % has not passed 95', async () => {
    const { logger, lines } = memoryLogger();
    const alerts = createAlerts(logger, { ramAlertPercent: 90 });
    const big = (current: number) => computeCapacity({ activeConnections: [current], workers: 8, workerConnections: 1000, maxConnections: 0, serving: true });
    alerts.observe(big(7597), undefined);
    await flush();
    assert.deepEqual(lines.map((l) => `${String(l.event)}@${String(l.threshold)}`), ['capacity.alert@80'], '94.96 %');
    alerts.observe(big(7996), undefined);
    await flush();
    assert.deepEqual(lines.map((l) => `${String(l.event)}@${String(l.threshold)}`), ['capacity.alert@80', 'capacity.alert@95'], '99.95 %: not "refused"');
    alerts.observe(big(8000), undefined);
    await flush();
    assert.deepEqual(lines.map((l) => `${String(l.event)}@${String(l.threshold)}`), ['capacity.alert@80', 'capacity.alert@95', 'capacity.alert@100']);
  });

  it('logs CPU and RAM crossings once, with the configured RAM threshold', async () => {
    const { logger, lines } = memoryLogger();
    const alerts = createAlerts(logger, { ramAlertPercent: 60, recoverAfterMs: 0 });
    const c = cap(0);
    for (const [cpu, ram] of [[10, 50], [85, 61], [90, 70], [75, 58], [65, 54], [95, 65]] as const) alerts.observe(c, host(cpu, ram));
    await flush();
    assert.deepEqual(
      lines.map((l) => l.event),
      ['host.cpu_high', 'host.ram_high', 'host.cpu_normal', 'host.ram_normal', 'host.cpu_high', 'host.ram_high'],
    );
    assert.equal(lines.find((l) => l.event === 'host.ram_high')?.threshold, 60);
    assert.equal(lines.find((l) => l.event === 'host.ram_high')?.ram_from, 'host');
    assert.equal(lines.find((l) => l.event === 'host.ram_high')?.msg, 'host RAM at 61% (over CORRAL_RAM_ALERT_PERCENT=60%)');
  });

  it("under a cgroup memory limit, says the RAM is the limit's, not the machine's, with the limit and what sets it", async () => {
    const { logger, lines } = memoryLogger();
    const alerts = createAlerts(logger, { ramAlertPercent: 85, recoverAfterMs: 0 });
    const limit = 512 * 2 ** 20;
    const sample = (ram: number): HostSample => ({ ...host(10, ram), ramUsedBytes: Math.round((limit * ram) / 100), ramTotalBytes: limit, ramFrom: 'cgroup' });
    alerts.observe(cap(0), sample(88.8));
    alerts.observe(cap(0), sample(50));
    await flush();
    const [high, normal] = lines;
    assert.equal(high?.event, 'host.ram_high');
    assert.equal(high?.ram_from, 'cgroup');
    assert.equal(high?.ram_total_bytes, limit);
    assert.equal(high?.msg, "RAM at 88.8% of the cgroup's memory limit (512 MiB: MemoryMax= of corral's unit or of a slice above it, or its container's limit), not of the machine's RAM (over CORRAL_RAM_ALERT_PERCENT=85%)");
    assert.equal(normal?.event, 'host.ram_normal');
    assert.equal(normal?.ram_from, 'cgroup');
    assert.equal(normal?.msg, "RAM back to 50% of the cgroup's memory limit");
  });

  it('does not clear host.ram_high on a change of base alone: under another base the figure must stay under the band as long as a capacity level', async () => {
    const { logger, lines } = memoryLogger();
    let ms = 0;
    const alerts = createAlerts(logger, { ramAlertPercent: 90, now: () => ms });
    // MemoryMax=2G on a 16 GiB host, both with about 1 GiB of room: the limit's figure reads 50 %,
    // the machine's 94 %, and the base the monitor shows changes as the machine's room moves.
    const limitSample = (ram: number): HostSample => ({ ...host(10, ram), ramTotalBytes: 2 * 2 ** 30, ramFrom: 'cgroup' });
    const machineSample = (ram: number): HostSample => ({ ...host(10, ram), ramTotalBytes: 16 * 2 ** 30, ramFrom: 'host' });
    for (let i = 0; i < 12; i++) {
      alerts.observe(cap(0), i % 2 === 0 ? machineSample(94) : limitSample(50));
      ms += 5000;
    }
    await flush();
    assert.deepEqual(lines.map((l) => l.event), ['host.ram_high'], 'one alert while the base swings, no ram_normal');
    assert.equal(alerts.active().ram, true);
    // The machine's room back for good: the limit's figure, under the band for the whole hold.
    for (let t = 0; t <= CAPACITY_RECOVER_MS; t += 5000) {
      alerts.observe(cap(0), limitSample(50));
      ms += 5000;
    }
    await flush();
    assert.deepEqual(lines.map((l) => l.event), ['host.ram_high', 'host.ram_normal']);
    assert.equal(lines[1]?.ram_from, 'cgroup');
    // Under the base it fired on, the figure falling under the band clears at once, as before.
    alerts.observe(cap(0), limitSample(95));
    alerts.observe(cap(0), limitSample(60));
    await flush();
    assert.deepEqual(lines.slice(2).map((l) => l.event), ['host.ram_high', 'host.ram_normal']);
  });

  it("under a CPU quota, says the CPU is the quota's, not the machine's; without one, host CPU as before", async () => {
    const { logger, lines } = memoryLogger();
    const alerts = createAlerts(logger, { ramAlertPercent: 85, recoverAfterMs: 0 });
    const sample = (cpu: number): HostSample => ({ ...host(cpu, 10), cpuFrom: 'cgroup', cpuCount: 2 });
    alerts.observe(cap(0), sample(97.5));
    alerts.observe(cap(0), sample(40));
    alerts.observe(cap(0), host(90, 10));
    await flush();
    const [high, normal, hostHigh] = lines;
    assert.deepEqual([high?.event, high?.cpu_from, high?.cpus, high?.cpu_percent], ['host.cpu_high', 'cgroup', 2, 97.5]);
    assert.equal(high?.msg, "CPU at 97.5% of the cgroup's CPU quota (CPUQuota= of corral's unit or of a slice above it, or its container's CPU limit), not of the machine's CPUs (over 80%)");
    assert.deepEqual([normal?.event, normal?.cpu_from, normal?.msg], ['host.cpu_normal', 'cgroup', "CPU back to 40% of the cgroup's CPU quota"]);
    assert.deepEqual([hostHigh?.event, hostHigh?.cpu_from, hostHigh?.msg], ['host.cpu_high', 'host', 'host CPU at 90% (over 80%)']);
  });
});
