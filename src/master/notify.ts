// systemd notification interface used by the arbiter. The transport lives in sd-notify.ts;
// without NOTIFY_SOCKET every call is a no-op.

export interface Notifier {
  /** READY=1 with a STATUS line: all initial workers listen, or a reload finished. */
  ready(status: string): void;
  /**
   * RELOADING=1 with MONOTONIC_USEC, at the start of a HUP reload, and EXTEND_TIMEOUT_USEC: the
   * reload may take `timeoutMs` (its settings' graceful timeout, which may be longer than the
   * unit's TimeoutStartSec was generated for).
   */
  reloading(status: string, timeoutMs: number): void;
  /**
   * EXTEND_TIMEOUT_USEC alone: the reload under way took a step (a boot attempt, the old workers'
   * drain) and may take `timeoutMs` from now (reload-bound.ts).
   */
  extendTimeout(timeoutMs: number): void;
  /** STOPPING=1 at the start of shutdown, and EXTEND_TIMEOUT_USEC: the stop may take `timeoutMs`. */
  stopping(status: string, timeoutMs: number): void;
  /** STATUS= one-line summary. */
  status(status: string): void;
  /** WATCHDOG=1; the arbiter calls it only while its loop runs and a worker is healthy. */
  watchdog(): void;
  /** Half of WATCHDOG_USEC in ms, or undefined when the watchdog is off. */
  readonly watchdogIntervalMs: number | undefined;
  close(): void;
}

export const noopNotifier: Notifier = {
  ready() {},
  reloading() {},
  extendTimeout() {},
  stopping() {},
  status() {},
  watchdog() {},
  watchdogIntervalMs: undefined,
  close() {},
};
