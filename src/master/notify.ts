// systemd notification interface used by the arbiter. The transport lives in sd-notify.ts;
// without NOTIFY_SOCKET every call is a no-op.

export interface Notifier {
  /** READY=1 with a STATUS line: all initial workers listen, or a reload finished. */
  ready(status: string): void;
  /** RELOADING=1 with MONOTONIC_USEC, at the start of a HUP reload. */
  reloading(status: string): void;
  /** STOPPING=1 at the start of shutdown. */
  stopping(status: string): void;
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
  stopping() {},
  status() {},
  watchdog() {},
  watchdogIntervalMs: undefined,
  close() {},
};
