// Time for deadlines and silences: the wall clock at process start, then monotonic time. A step
// of the system clock (NTP, a `date -s`) moves neither. Readings still look like wall-clock
// milliseconds, so they can be logged.

export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
