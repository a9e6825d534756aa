// How long a virtual user waits between requests. Either a flat think time, or the profile's
// Locust-style actions: pick an action by its frequency, spread its `requests` evenly over its
// `duration`, then pick the next one. --time-scale compresses the profile's phases, never a
// user's pace: "supports N users" must mean N users sending what N users send.

import type { ProfileAction } from './profile.js';

/**
 * What the latency figures mean under this pacing, said in every result: a closed model measures
 * only the requests its users got to send, so a stall is under-counted (coordinated omission, as
 * Gil Tene named it) unless corrected, as tally.ts does, for the requests each user's pace would
 * have sent during it. N users who each wait for their page is what "supports N users" asks.
 */
export const CLOSED_MODEL_NOTE =
  'closed model, as people use a site: each virtual user waits for its answer, pauses, then sends its next request, so a server that stalls is sent fewer requests meanwhile; p50/p95/p99 are corrected for that coordinated omission: a wait longer than a user\'s pace also counts the requests it kept back, each having waited one pace less (not with --think-time 0), never below the answers\' own percentiles, and a stall shows as a dip in req/s too';

export interface Pacer {
  /** Called before each request; returns the action's name when a new action begins. */
  beforeRequest(): string | undefined;
  /** Milliseconds to wait after a request. */
  pauseMs(): number;
  /** Milliseconds to wait before trying a login that failed again. */
  loginRetryMs(): number;
  /** The mean of pauseMs() for the user's current action: the interval its requests keep. */
  meanPauseMs(): number;
}

/** ±50 % uniform jitter, so users that started together do not stay in lockstep. */
function jitter(ms: number, random: () => number): number {
  return ms * (0.5 + random());
}

export class ThinkTimePacer implements Pacer {
  readonly #thinkMs: number;
  readonly #random: () => number;
  constructor(thinkMs: number, random: () => number) {
    this.#thinkMs = thinkMs;
    this.#random = random;
  }
  beforeRequest(): string | undefined {
    return undefined;
  }
  pauseMs(): number {
    return jitter(this.#thinkMs, this.#random);
  }
  loginRetryMs(): number {
    return this.pauseMs();
  }
  meanPauseMs(): number {
    return this.#thinkMs;
  }
}

export class ActionPacer implements Pacer {
  readonly #actions: readonly ProfileAction[];
  readonly #totalWeight: number;
  readonly #random: () => number;
  #current: ProfileAction | undefined;
  #left = 0;

  constructor(actions: readonly ProfileAction[], random: () => number) {
    if (actions.length === 0) throw new Error('ActionPacer needs at least one action');
    this.#actions = actions;
    this.#totalWeight = actions.reduce((sum, a) => sum + a.perHour, 0);
    this.#random = random;
  }

  #first: ProfileAction | undefined;

  beforeRequest(): string | undefined {
    if (this.#left > 0 && this.#current) {
      this.#left--;
      return undefined;
    }
    this.#current = this.#first ?? this.#pick();
    this.#first = undefined;
    this.#left = this.#current.requests - 1;
    return this.#current.name;
  }

  pauseMs(): number {
    const a = this.#current;
    if (!a) {
      // Before a user's first action (just after its login): a random part of that action's pace,
      // as Locust waits wait_time before a user's first task. Sent at once, every user's first
      // request landed as it logged in, so the load piled into the ramp-up and the next came one
      // whole pace (10 to 36 s) later, often after a compressed plateau had ended.
      this.#first ??= this.#pick();
      return this.#random() * (this.#first.durationMs / this.#first.requests);
    }
    return jitter(a.durationMs / a.requests, this.#random);
  }

  /** The current action's pace; before the first, the mean over the actions by frequency (sample-forecast.ts). */
  meanPauseMs(): number {
    const a = this.#current;
    if (a) return a.durationMs / a.requests;
    const time = this.#actions.reduce((sum, x) => sum + x.perHour * x.durationMs, 0);
    const requests = this.#actions.reduce((sum, x) => sum + x.perHour * x.requests, 0);
    return time / requests;
  }

  /** The pace of an action picked by frequency: a user not yet logged in has no action of its own. */
  loginRetryMs(): number {
    const a = this.#pick();
    return jitter(a.durationMs / a.requests, this.#random);
  }

  #pick(): ProfileAction {
    let r = this.#random() * this.#totalWeight;
    for (const a of this.#actions) {
      r -= a.perHour;
      if (r < 0) return a;
    }
    return this.#actions[this.#actions.length - 1] as ProfileAction;
  }
}
