// How long the reload in progress may still take, renewed at each step that restarts its clock:
// what systemd is told (EXTEND_TIMEOUT_USEC) and what GET /api/admin/reload answers, which
// `corral reload --wait` follows. A fixed bound was a guess: TimeoutStartSec (two boots and the
// drain, 154 s with the defaults) ran out after the second of CORRAL_BOOT_ATTEMPTS boots that
// hang, and systemd called a reload the master was still carrying out "timed out" (killing the
// wait, which never said why) minutes before the master rolled it back. Renewed at each step, the
// bound holds as long as the reload moves, and still ends it once a step overruns its own time.
//
// systemd (service.c, service_extend_timeout) moves the unit's one timer, the one a reload's
// ExecReload= command runs under too, to now + EXTEND_TIMEOUT_USEC when that is later, and never
// earlier: each message must come before the last one runs out (sd_notify(3)).

import type { Settings } from '../config/schema.js';
import { timeoutStartSec } from '../systemd/timeouts.js';
import type { Notifier } from './notify.js';
import { bootTimeoutMs } from './stuck-judgement.js';

/**
 * Room past a step's own time: the ticks that notice its end (250 ms apart), the kill and reaping
 * of a child past its deadline, the old workers' exit after their drain, READY=1's way to systemd.
 */
export const STEP_MARGIN_MS = 10_000;

/** A new bound within this of the last one told is not sent again: forks in a row are one step. */
const RESEND_MS = 1000;

type Timeouts = Pick<Settings, 'CORRAL_TIMEOUT' | 'CORRAL_GRACEFUL_TIMEOUT' | 'CORRAL_RELOAD_SETTLE'>;

/**
 * A reload starting: a keeper restart's boot (when its settings changed), then the workers', then
 * the old generation's drain. The unit's TimeoutStartSec, as generated for these settings.
 */
export function startBoundMs(s: Timeouts): number {
  return timeoutStartSec(s.CORRAL_GRACEFUL_TIMEOUT, s.CORRAL_TIMEOUT, s.CORRAL_RELOAD_SETTLE) * 1000;
}

/**
 * A boot attempt beginning `inMs` from now (a fork now, or the next once a failed boot's backoff
 * has passed): the boot timeout it has, the settle time it then stays ready before an old worker
 * drains, then the old generation's drain.
 */
export function attemptBoundMs(s: Timeouts, inMs = 0): number {
  return Math.max(0, inMs) + bootTimeoutMs(s.CORRAL_TIMEOUT * 1000) + s.CORRAL_RELOAD_SETTLE * 1000 + drainBoundMs(s);
}

/**
 * A reload's new worker on probation, ready for `readyForMs`: silent just before it settles, it is
 * killed as stuck CORRAL_TIMEOUT later (a failed boot, and the next attempt follows), or else it
 * settles and the old generation drains. Past its attempt's bound when CORRAL_TIMEOUT is longer
 * than the boot timeout's floor and the boot took most of it.
 */
export function probationBoundMs(s: Timeouts, readyForMs: number): number {
  return Math.max(0, s.CORRAL_RELOAD_SETTLE * 1000 - readyForMs) + s.CORRAL_TIMEOUT * 1000 + drainBoundMs(s);
}

/** The old generation's drain beginning: each of its workers has the graceful timeout. */
export function drainBoundMs(s: Timeouts): number {
  return s.CORRAL_GRACEFUL_TIMEOUT * 1000 + STEP_MARGIN_MS;
}

/** The reload's deadline on the arbiter's clock, as systemd was last told it. */
export class ReloadBound {
  private deadline: number | undefined;

  constructor(
    private readonly notifier: Pick<Notifier, 'reloading' | 'extendTimeout'>,
    private readonly now: () => number,
  ) {}

  /** A reload starts: RELOADING=1, with its first bound. */
  start(status: string, boundMs: number): void {
    this.deadline = this.now() + boundMs;
    this.notifier.reloading(status, boundMs);
  }

  /**
   * The reload took a step that restarts its clock, and has `boundMs` from now: told to systemd
   * when that ends later than the deadline it has. Returns whether it was. Only the arbiter knows
   * whether a reload is in progress: it calls this only then.
   */
  extend(boundMs: number): boolean {
    if (this.deadline === undefined) return false;
    const at = this.now() + boundMs;
    if (at < this.deadline + RESEND_MS) return false;
    this.deadline = at;
    this.notifier.extendTimeout(boundMs);
    return true;
  }

  /** What is left of the bound, in ms (0 once past); undefined before any reload. */
  remainingMs(): number | undefined {
    return this.deadline === undefined ? undefined : Math.max(0, this.deadline - this.now());
  }
}
