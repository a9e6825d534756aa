// The run's timeline: segments (progressive steps, or profile phases) with a user count that is
// constant or moves linearly. The runner samples usersAt(t) on every tick; the verdict judges
// each segment on its own.

import { maxOf } from './extremes.js';
import type { Profile } from './profile.js';

export type SegmentKind = 'step' | 'phase' | 'constant';

export interface Segment {
  /** "step 3/6", "ramp_up", "constant". */
  readonly label: string;
  readonly kind: SegmentKind;
  readonly startMs: number;
  readonly endMs: number;
  readonly usersFrom: number;
  readonly usersTo: number;
  /** True for the segment that --duration cut before its planned end. */
  readonly cutShort?: boolean;
}

export interface Schedule {
  readonly segments: readonly Segment[];
  readonly totalMs: number;
  readonly maxUsers: number;
  /** True when --duration cut the planned schedule short. */
  readonly truncated: boolean;
  /** The planned length before any --duration cap. */
  readonly plannedMs: number;
  /**
   * The planned segments --duration cut before they began: they never run, and are listed as not
   * run (as an interruption's are) rather than left out of the verdict, the table and the result.
   */
  readonly unstarted: readonly Segment[];
}

function finish(segments: Segment[], truncated = false, plannedMs?: number, unstarted: readonly Segment[] = []): Schedule {
  const totalMs = segments.length ? (segments[segments.length - 1]?.endMs ?? 0) : 0;
  const maxUsers = maxOf(segments.map((s) => Math.max(s.usersFrom, s.usersTo)), 0);
  return { segments, totalMs, maxUsers, truncated, plannedMs: plannedMs ?? totalMs, unstarted };
}

/** The seeds' progressive test: each step holds its user count for stepMs. */
export function stepsSchedule(steps: readonly number[], stepMs: number): Schedule {
  return finish(
    steps.map((users, i) => ({
      label: `step ${i + 1}/${steps.length}`,
      kind: 'step',
      startMs: i * stepMs,
      endMs: (i + 1) * stepMs,
      usersFrom: users,
      usersTo: users,
    })),
  );
}

export function constantSchedule(users: number, durationMs: number): Schedule {
  return finish([{ label: 'constant', kind: 'constant', startMs: 0, endMs: durationMs, usersFrom: users, usersTo: users }]);
}

/**
 * A profile's phases, compressed by timeScale (0.01 turns 45 min into 27 s). Each phase moves
 * linearly from the previous phase's end count (0 before the first) to its own `users`; a plateau
 * holds its users from its start, even when no ramp leads up to it.
 */
export function profileSchedule(profile: Profile, timeScale: number): Schedule {
  const segments: Segment[] = [];
  let t = 0;
  let users = 0;
  for (const phase of profile.phases) {
    const durationMs = Math.round(phase.durationMs * timeScale);
    if (durationMs > 0) {
      const from = phase.name === 'plateau' ? phase.users : users;
      segments.push({ label: phase.name, kind: 'phase', startMs: t, endMs: t + durationMs, usersFrom: from, usersTo: phase.users });
      t += durationMs;
    }
    users = phase.users;
  }
  return finish(segments);
}

/** Cuts the schedule at capMs (--duration is a hard ceiling on any plan). */
export function capSchedule(schedule: Schedule, capMs: number): Schedule {
  if (capMs >= schedule.totalMs) return schedule;
  const segments: Segment[] = [];
  const unstarted: Segment[] = [];
  for (const s of schedule.segments) {
    if (s.startMs >= capMs) unstarted.push(s);
    else if (s.endMs <= capMs) segments.push(s);
    else segments.push({ ...s, endMs: capMs, usersTo: Math.round(usersIn(s, capMs)), cutShort: true });
  }
  return finish(segments, true, schedule.plannedMs, unstarted);
}

function usersIn(s: Segment, tMs: number): number {
  const span = s.endMs - s.startMs;
  const frac = span > 0 ? Math.min(1, Math.max(0, (tMs - s.startMs) / span)) : 1;
  return s.usersFrom + (s.usersTo - s.usersFrom) * frac;
}

/** Index of the segment running at tMs (the last one at or past the end). */
export function segmentIndexAt(schedule: Schedule, tMs: number): number {
  const segs = schedule.segments;
  for (let i = 0; i < segs.length; i++) {
    if (tMs < (segs[i]?.endMs ?? 0)) return i;
  }
  return Math.max(0, segs.length - 1);
}

/** Users wanted at tMs, rounded to a whole user. */
export function usersAt(schedule: Schedule, tMs: number): number {
  if (tMs >= schedule.totalMs) return 0;
  const seg = schedule.segments[segmentIndexAt(schedule, tMs)];
  return seg ? Math.round(usersIn(seg, tMs)) : 0;
}

/** The most users a segment asks for (its label in the verdict). */
export function segmentPeak(s: Segment): number {
  return Math.max(s.usersFrom, s.usersTo);
}
