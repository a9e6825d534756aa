// The sd_notify fields systemd must get, held after a failed send until a later message carries
// them. The addon sends with MSG_DONTWAIT (it never blocks the master's loop), so a full queue at
// PID 1 (EAGAIN: the notify socket takes net.unix.max_dgram_qlen datagrams from every service)
// loses that datagram. A lost STATUS= is made good by the next one; a lost WATCHDOG=1 is not: the
// next ping comes half of WatchdogSec after the lost one, a whole WatchdogSec after the last that
// arrived, when systemd has just aborted the service for want of it. A lost READY=1 is not either:
// nothing sends it again, and systemd kept the unit "activating" until TimeoutStartSec and
// then killed the serving master (or, after `systemd-notify RELOADING=1` from ExecReload=, kept
// the reload job waiting until its timeout). libsystemd's own sd_notify blocks until PID 1 has
// room instead, which the master's loop cannot afford.
//
// Held: the state (READY=1, RELOADING=1 with its MONOTONIC_USEC, STOPPING=1), EXTEND_TIMEOUT_USEC,
// which bounds the reload or the stop under way, and WATCHDOG=1, which goes with the next message
// (the STATUS= repeat, within 5 s) whatever state that one says, but for STOPPING=1: systemd
// re-arms its watchdog on any WATCHDOG=1, in a stop too (service_notify_message), and a stop longer
// than WatchdogSec would then be aborted. A newer state replaces all the others, but for READY=1
// after a held RELOADING=1: that READY=1 ends the reload (its bound goes) and carries the held
// RELOADING=1 and MONOTONIC_USEC with it. Under Type=notify-reload, systemd, which sent SIGHUP and
// waits for RELOADING=1 dated after it, ignores a READY=1 alone in that state and fails the reload
// at its timeout; "RELOADING=1 and READY=1" in one message it reads as a reload begun and finished
// (src/core/service.c, service_notify_message). Under Type=notify READY=1 wins over RELOADING=1 in
// one message, as READY=1 alone would. A newer field of the same name replaces the held one. A held
// EXTEND_TIMEOUT_USEC sent late gives systemd a little more time than was asked (it counts from
// the arrival): never less than the reload needs.

/** The fields that say what state the service is in: a new one replaces every held field. */
const STATE = new Set(['READY', 'RELOADING', 'STOPPING', 'MONOTONIC_USEC']);
/** The fields kept after a failed send; STATUS= is sent afresh anyway. */
const KEPT = new Set([...STATE, 'EXTEND_TIMEOUT_USEC', 'WATCHDOG']);
const PING = 'WATCHDOG=1';

function nameOf(field: string): string {
  const eq = field.indexOf('=');
  return eq === -1 ? field : field.slice(0, eq);
}

export class HeldFields {
  private held: readonly string[] = [];

  /** The fields still to be delivered from failed sends. */
  get holding(): readonly string[] {
    return this.held;
  }

  /** What to send for `fields`: the held fields they do not replace, then `fields`. */
  payload(fields: readonly string[]): string[] {
    if (this.held.length === 0) return [...fields];
    if (fields.some((f) => STATE.has(nameOf(f)))) {
      const stopping = fields.includes('STOPPING=1');
      const ping = !stopping && this.held.includes(PING) && !fields.includes(PING) ? [PING] : [];
      const endsHeldReload = this.held.includes('RELOADING=1') && fields.includes('READY=1') && !stopping;
      if (!endsHeldReload) return [...ping, ...fields];
      const own = new Set(fields.map(nameOf));
      const reloadBegun = this.held.filter((f) => (nameOf(f) === 'RELOADING' || nameOf(f) === 'MONOTONIC_USEC') && !own.has(nameOf(f)));
      return [...reloadBegun, ...ping, ...fields];
    }
    const names = new Set(fields.map(nameOf));
    return [...this.held.filter((f) => !names.has(nameOf(f))), ...fields];
  }

  /** `payload` reached systemd. */
  delivered(): void {
    this.held = [];
  }

  /** `payload` could not be sent: what systemd must still get of it is held for the next message. */
  failed(payload: readonly string[]): void {
    this.held = payload.filter((f) => KEPT.has(nameOf(f)));
  }
}
