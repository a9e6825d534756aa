// How often workers and the keeper beat, from the CORRAL_TIMEOUT they were started with.

/** The beat period with a timeout of 4 s or more: the period the heartbeat's figures are read over. */
const BEAT_MS = 1000;

/**
 * A quarter of the timeout, at most a second. Beating every second with CORRAL_TIMEOUT=1, a beat
 * a few milliseconds late (timer drift, a busy host) was a timeout: healthy idle workers were
 * killed. Four beats per timeout leave three to be late (gunicorn's workers notify every half).
 */
export function heartbeatIntervalMs(timeoutSeconds: number): number {
  return Math.min(BEAT_MS, Math.floor((timeoutSeconds * 1000) / 4));
}

/**
 * Beats a child may miss before it counts as not beating (health, metrics, and a drain, which
 * kills such a child rather than wait for it): its loop is blocked, or the process stopped.
 */
export const LATE_AFTER_BEATS = 3;

/**
 * How long a child beating every `beatIntervalMs` may be silent before it counts as not beating.
 * Give it the child's own interval (ChildRecord.beatIntervalMs), not one from the settings now in
 * force: a child outlives a reload that lowers CORRAL_TIMEOUT (the keeper does, unless a setting
 * of its own changed) and goes on beating at the pace it was started with.
 */
export function lateAfterMs(beatIntervalMs: number): number {
  return LATE_AFTER_BEATS * beatIntervalMs;
}
