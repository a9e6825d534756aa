// The scheduler: every tick it compares the users the schedule wants with the users running,
// starts or stops virtual users, and feeds the recorder and the progress line. A timer set at
// the start is the hard deadline: it aborts the run signal, which cancels every request in
// flight and every pause, so the run never outlasts its schedule.

import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { segmentIndexAt, usersAt, type Schedule } from './schedule.js';
import type { VirtualUser } from './vuser.js';

export interface RunnerOptions {
  readonly schedule: Schedule;
  /** Creates (but does not start) the virtual user with this id. */
  readonly createUser: (id: number) => VirtualUser;
  /** Aborted by the runner at the deadline; the caller aborts it on SIGINT. */
  readonly controller: AbortController;
  /** Time origin shared with the client and recorder (performance.now() at the start). */
  readonly t0: number;
  readonly tickMs?: number;
  readonly onTick?: (state: TickState) => void;
}

export interface TickState {
  readonly elapsedMs: number;
  readonly users: number;
  readonly wanted: number;
  readonly segment: number;
}

export interface RunOutcome {
  /** When the load stopped (deadline, schedule end or interruption), ms since t0. */
  readonly stoppedAtMs: number;
  /** When every virtual user had finished, ms since t0. */
  readonly endedAtMs: number;
  readonly interrupted: boolean;
  readonly usersStarted: number;
  /** This process's CPU time over the run, as a share of the whole host (all cores), in %. */
  readonly generatorCpuPercent: number;
}

export async function runSchedule(opts: RunnerOptions): Promise<RunOutcome> {
  const { schedule, controller, t0 } = opts;
  const signal = controller.signal;
  const now = (): number => performance.now() - t0;
  const running: { vu: VirtualUser; done: Promise<void> }[] = [];
  const stopped: Promise<void>[] = [];
  let nextId = 0;
  let deadlineHit = false;

  const cpu0 = process.cpuUsage();
  const deadline = setTimeout(() => {
    deadlineHit = true;
    controller.abort(new Error('deadline'));
  }, Math.max(0, schedule.totalMs - now()));

  const tick = (): void => {
    if (signal.aborted) return;
    const t = now();
    const wanted = usersAt(schedule, t);
    while (running.length < wanted) {
      const vu = opts.createUser(nextId++);
      running.push({ vu, done: vu.start() });
    }
    // Newest users leave first, like a Locust ramp-down.
    while (running.length > wanted) {
      const last = running.pop();
      if (!last) break;
      last.vu.stop();
      stopped.push(last.done);
    }
    opts.onTick?.({ elapsedMs: t, users: running.length, wanted, segment: segmentIndexAt(schedule, t) });
  };

  tick();
  const interval = setInterval(tick, opts.tickMs ?? 100);
  await new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  const stoppedAtMs = now();
  clearInterval(interval);
  clearTimeout(deadline);
  for (const r of running) r.vu.stop();
  await Promise.all([...running.map((r) => r.done), ...stopped]);
  const endedAtMs = now();
  const cpu = process.cpuUsage(cpu0);
  const generatorCpuPercent = endedAtMs > 0 ? Math.round(((cpu.user + cpu.system) / 1000 / (endedAtMs * availableParallelism())) * 1000) / 10 : 0;
  return { stoppedAtMs, endedAtMs, interrupted: !deadlineHit, usersStarted: nextId, generatorCpuPercent };
}
