// sd_notify(3) transport: turns Notifier calls into datagrams on $NOTIFY_SOCKET.
//
// How the datagram is sent, and why: Node has no AF_UNIX SOCK_DGRAM sockets, so corral ships a
// one-function N-API addon (native/sd_notify.c, built by node-gyp during `npm ci`). It sends from
// the master itself, the unit's main pid, so workers need no notify access (NotifyAccess=exec
// admits only the main process and the ExecReload= commands); it reaches abstract sockets
// ("@name"); and it never blocks (MSG_DONTWAIT). Spawning systemd-notify(1) instead would need
// NotifyAccess=all and still lose messages: systemd looks up the sender's cgroup after the
// short-lived child exited (systemd issue #2737). The unix-dgram package cannot address abstract
// sockets. Details in README.md (Operations).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SystemdEnv } from '../config/systemd-env.js';
import { CorralError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { HeldFields } from './notify-held.js';
import { noopNotifier, type Notifier } from './notify.js';

/** Sends one datagram; throws an Error with an errno `code` on failure. */
export type DatagramSend = (address: string, payload: Buffer) => void;

interface Addon {
  send: DatagramSend;
}

/** Where node-gyp puts the addon, relative to the package root (dist/src/master -> ../../..). */
export function addonPath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return resolve(here, '../../../build/Release/sd_notify.node');
}

/** Loads the native sender; throws CORRAL_ERR_NOTIFY with the fix when it was not built. */
export function loadDatagramSend(path: string = addonPath()): DatagramSend {
  if (!existsSync(path)) {
    throw new CorralError(
      'CORRAL_ERR_NOTIFY',
      `NOTIFY_SOCKET is set but the sd_notify addon is missing (${path}); rebuild it with \`npm rebuild\` or \`npm ci\` (needs python3, make and g++)`,
    );
  }
  try {
    const addon = createRequire(import.meta.url)(path) as Addon;
    return addon.send;
  } catch (err) {
    throw new CorralError('CORRAL_ERR_NOTIFY', `cannot load the sd_notify addon ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** CLOCK_MONOTONIC in microseconds: libuv's hrtime reads CLOCK_MONOTONIC on Linux, as systemd expects. */
export function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/**
 * STATUS= must be one line: systemd splits the datagram on newlines. Nor may it hold a NUL byte:
 * PID 1 ignores a whole datagram with one inside (manager_dispatch_notify_fd, "embedded NUL
 * bytes"), the READY=1 or RELOADING=1 it carries with it. The status line quotes the error of a
 * failed reload, and V8's own messages quote the bytes they choke on (JSON.parse of a file a power
 * cut left zero-filled: "Unexpected token '\0'"): the READY=1 ending that reload was lost, the unit
 * stayed "reloading", and every STATUS= after it was dropped until a reload completed.
 */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ').replaceAll('\0', '\\0').trim();
}

/**
 * EXTEND_TIMEOUT_USEC=: systemd (≥236) waits at least this long from now before it times out the
 * reload or the stop under way, however short the unit's TimeoutStartSec/TimeoutStopSec. Those
 * were sized from the settings when the unit was generated; CORRAL_GRACEFUL_TIMEOUT raised in the
 * .env file since (and applied by a reload) would otherwise have systemd SIGKILL a stop, requests
 * in flight and the keeper's last flush with it, before the graceful timeout the operator set.
 * It never shortens a timeout: systemd keeps the later of the two deadlines. A reload sends it again
 * at each step it takes (reload-bound.ts), each time before the last one runs out.
 */
function extendTimeout(timeoutMs: number): string {
  return `EXTEND_TIMEOUT_USEC=${Math.max(0, Math.ceil(timeoutMs)) * 1000}`;
}

export interface NotifierOptions {
  /** The datagram sender; defaults to the native addon. Tests may pass another real sender. */
  send?: DatagramSend;
}

/**
 * Returns a Notifier that speaks to systemd, or `noopNotifier` when corral was not started by
 * systemd with Type=notify (no NOTIFY_SOCKET). Throws CORRAL_ERR_NOTIFY when systemd expects
 * notifications but the addon is missing: failing at once beats a start that hangs until
 * TimeoutStartSec.
 */
export function createNotifier(systemdEnv: SystemdEnv, logger: Logger, options: NotifierOptions = {}): Notifier {
  const address = systemdEnv.notifySocket;
  if (address === undefined) return noopNotifier;
  const send = options.send ?? loadDatagramSend();
  let closed = false;
  // Log a failing send once per distinct error, not once per watchdog tick; log the recovery.
  let lastErrorCode: string | undefined;
  // What a failed send must still tell systemd (READY=1 above all), carried by the next message.
  const held = new HeldFields();

  function notify(fields: readonly string[]): void {
    if (closed) return;
    const sending = held.payload(fields);
    const resent = sending.slice(0, sending.length - fields.length);
    const payload = Buffer.from(sending.join('\n'), 'utf8');
    try {
      send(address as string, payload);
      held.delivered();
      if (lastErrorCode !== undefined) {
        logger.info({ event: 'systemd.notify.recovered', socket: address, resent }, `sd_notify works again${resent.length > 0 ? `; sent what failed before: ${resent.join(' ')}` : ''}`);
        lastErrorCode = undefined;
      }
      logger.debug({ event: 'systemd.notify', fields: sending }, 'sd_notify sent');
    } catch (err) {
      held.failed(sending);
      const code = String((err as NodeJS.ErrnoException).code ?? 'EUNKNOWN');
      if (code !== lastErrorCode) {
        lastErrorCode = code;
        logger.warn(
          { event: 'systemd.notify.failed', code: 'CORRAL_ERR_NOTIFY', errno: code, socket: address, fields: sending, held: held.holding, err: (err as Error).message },
          `could not send a notification to systemd${held.holding.length > 0 ? `; ${held.holding.join(' ')} goes again with the next one` : ''}`,
        );
      }
    }
  }

  const watchdogIntervalMs = systemdEnv.watchdogUsec === undefined ? undefined : Math.max(1, Math.floor(systemdEnv.watchdogUsec / 2000));

  return {
    ready(status) {
      notify(['READY=1', `STATUS=${oneLine(status)}`]);
    },
    reloading(status, timeoutMs) {
      // MONOTONIC_USEC lets systemd ≥253 (Type=notify-reload) match this RELOADING=1 to the
      // reload it asked for; systemd 252 ignores the field and still honours RELOADING/READY.
      notify(['RELOADING=1', `MONOTONIC_USEC=${monotonicUsec()}`, extendTimeout(timeoutMs), `STATUS=${oneLine(status)}`]);
    },
    extendTimeout(timeoutMs) {
      notify([extendTimeout(timeoutMs)]);
    },
    stopping(status, timeoutMs) {
      notify(['STOPPING=1', extendTimeout(timeoutMs), `STATUS=${oneLine(status)}`]);
    },
    status(status) {
      notify([`STATUS=${oneLine(status)}`]);
    },
    watchdog() {
      if (watchdogIntervalMs !== undefined) notify(['WATCHDOG=1']);
    },
    watchdogIntervalMs,
    close() {
      closed = true;
    },
  };
}
