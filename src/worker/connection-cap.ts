// Per-worker connection cap. A connection over the cap is still parsed (so the client reads a
// proper HTTP answer, not a reset), gets an immediate 503 JSON with Retry-After, and is closed
// (after a short linger when a body is still arriving).
// Over-cap connections that never send a request are dropped after a short deadline; those still
// sending their headers then get the 503 at that deadline.
//
// Idle connections give way: at the cap, a new connection takes the slot of an idle one
// (idle-connections.ts: a keep-alive connection 250 ms past its last answer with nothing read
// since, or one that has sent nothing for a second), which is closed, as nginx does when worker_connections runs out ("reusing
// connections"). Otherwise clients that merely keep a connection open (browsers keep theirs for
// CORRAL_KEEPALIVE) would make every new client get the 503 while the worker does nothing. Only
// when no connection is idle does the new one get the 503. The slot changes hands, so the count
// stays where it was: within the worker's cap and within its share while the host is FULL.
// With a host gauge, a refusal with none idle here asks the other workers to close one of theirs
// (connection-gauge.ts), for the client's retry.
//
// Refusals and closures are each reported once per burst (its start and its end), never one by one.
//
// Over-cap connections hold descriptors too. Under an open-files limit (fdBudget), those past what
// it leaves are answered 503 at once, from the raw socket, and closed: a flood of clients that send
// nothing (or half a request) held one each for 2 s, and ran the worker out of descriptors.
//
// What an over-cap connection is answered, and when it is closed, is over-cap-refusal.ts.

import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { statusOf } from '../errors.js';
import { lingerOnClose } from '../http/lingering-close.js';
import { createBurst, type BurstReport } from './burst.js';
import { createBusyPeak } from './busy-peak.js';
import type { HostConnectionGauge } from './connection-gauge.js';
import { createIdleConnections, type TrackedSocket } from './idle-connections.js';
import { ANSWERED, OVER_CAP, OVER_CAP_LINGER_MS, overCapDeadline, refusalAnswer, refuseNow, type CappedSocket, type Refusal } from './over-cap-refusal.js';

/** How long an over-cap connection may take to send its request headers before it is answered 503 (or closed, if it sent nothing). */
export const OVER_CAP_IDLE_MS = 2000;
/**
 * How often a worker with a host gauge looks whether another refused a connection for want of
 * room (connection-gauge.ts): one read of shared memory, well within the refused client's
 * Retry-After of 1 s.
 */
const ROOM_CHECK_MS = 100;

export interface ConnectionCap {
  /** Connections counted against the cap (over-cap ones excluded). */
  active(): number;
  /** Those connections themselves (the send timeout looks at them: send-timeout.ts). */
  connections(): Iterable<Socket>;
  /** Of those, the ones idle now, which would give way to a new connection at the cap. */
  idleNow(): number;
  /** The master's current per-worker cap (it follows the worker count); true when it changed. */
  setLimit(cap: number): boolean;
  /**
   * Host-wide FULL as broadcast by the master: refuse new connections even under the local cap.
   * Ignored with a host gauge, which knows the host's count at once.
   */
  setHostFull(full: boolean, current: number, max: number): void;
  /** The host's cap (it follows the worker count), with a host gauge; true when it changed. */
  setHostMax(max: number): boolean;
  /**
   * Every request comes here first, `now` its start (performance.now()). On an over-cap connection
   * it is answered 503 and true is returned; otherwise its connection counts as busy until its
   * answer is sent (answerSent).
   */
  screen(req: IncomingMessage, res: ServerResponse, now: number): boolean;
  /**
   * A response screen() let through has closed, at `now`: once its answer was sent whole, its
   * connection may turn idle. Called from the request stats' one 'close' listener (server.ts), not
   * from a 'finish' listener of its own: a second 'finish' listener beside node:http's made every
   * response copy its listener array to emit it.
   */
  answerSent(res: ServerResponse, now: number): void;
  /** Requests answered 503 "server full" since start: no access line records them. */
  refused(): number;
  /** Idle keep-alive connections closed since start to admit new ones. */
  idleClosed(): number;
  /** What the heartbeat reports of the interval since the last call; the next one starts now. */
  takeInterval(): IntervalFigures;
  /**
   * Closes the connections that have sent nothing since they were accepted, SILENT_GRACE_MS or
   * more ago, at this look and the one before (a draining worker's sweeps: see server.ts drain).
   */
  closeSilent(): void;
}

/** A worker's connections over one heartbeat interval (see busy-peak.ts for why not a sample). */
export interface IntervalFigures {
  /** Open now. */
  readonly active: number;
  /** Of those, idle now. */
  readonly idle: number;
  /** The most busy (open, not idle) at once since the last call, at least those busy now. */
  readonly peakBusy: number;
  /** Connections answered 503 server full since the last call. */
  readonly refused: number;
  /** Idle connections closed since the last call to admit new ones. */
  readonly idleClosed: number;
}

/** What the cap knew when a burst started. */
export interface CapFields {
  /** This worker's open connections, and its own cap. */
  readonly active: number;
  readonly cap: number;
  /** The whole host was full: `current`/`max` are the host's count and cap, not this worker's. */
  readonly hostFull: boolean;
  /** The count that decided, at its cap (this worker's own, or the host's). */
  readonly current: number;
  readonly max: number;
}

export interface CapReport {
  /** New connections answered 503. */
  readonly refusals: BurstReport<CapFields>;
  /** Idle keep-alive connections closed to admit new ones. */
  readonly idleClosures: BurstReport<CapFields>;
}

/** The host's count, kept exact across workers (connection-gauge.ts), and the host's cap. */
export interface HostGaugeCap {
  readonly gauge: HostConnectionGauge;
  readonly max: number;
}

/**
 * Descriptors the worker may spend on connections, counted and over the cap (fd-limit.ts:
 * the soft RLIMIT_NOFILE less the worker's own files); undefined: no limit to keep to.
 */
export function attachConnectionCap(server: Server, initialCap: number, report?: CapReport, host?: HostGaugeCap, fdBudget?: number): ConnectionCap {
  let cap = initialCap;
  /** Over-cap connections still open (waiting for their request, or answered and lingering). */
  let overCap = 0;
  let hostMax = host?.max ?? 0;
  const counted = new Set<CappedSocket>();
  const idle = createIdleConnections();
  /** Connections the last closeSilent found silent past their grace (closed if still so at the next). */
  let silentAtLastLook = new Set<TrackedSocket>();
  const peak = createBusyPeak(idle);
  // While the host is FULL this worker may refill the slots it frees itself, never go past the
  // connections it had when told: the master's next word comes a heartbeat later (up to about a
  // second and a quarter), and refusing every connection until then would answer 503 with room free.
  // Each worker growing back only to its own count keeps the host within its cap.
  let hostFull: { current: number; max: number; mine: number } | undefined;
  let refused = 0;
  let refusedAtBeat = 0;
  let idleClosedAtBeat = 0;
  let idleClosed = 0;
  const fieldsOf = (r: Refusal) => (): CapFields => ({ active: counted.size, cap, hostFull: r.host, current: r.current, max: r.max });
  const refusals = createBurst(report?.refusals);
  const idleClosures = createBurst(report?.idleClosures);


  /** The connection to give way first, taken out of the idle lists; undefined when none is idle. */
  const takeIdle = (): CappedSocket | undefined => {
    const socket = idle.first(performance.now());
    if (socket) idle.remove(socket);
    return socket;
  };

  /**
   * Why a new connection finds no slot, undefined when it has one: over this worker's cap, or over
   * the host's (with a gauge, which then counts the new one when it has room; without, from the
   * master's FULL).
   */
  const full = (): Refusal | undefined => {
    if (counted.size >= cap) return { current: counted.size, max: cap, host: false };
    if (!host) return hostFull !== undefined && counted.size >= hostFull.mine ? { current: hostFull.current, max: hostFull.max, host: true } : undefined;
    const taken = host.gauge.take(hostMax);
    return taken.taken ? undefined : { current: taken.total, max: hostMax, host: true };
  };

  if (host) {
    // Another worker refused with none idle of its own: one idle connection closed here per
    // refusal, never a busy one, and none once the refusals are made room for or have lapsed.
    const hostFullFields = (): CapFields => ({ active: counted.size, cap, hostFull: true, current: hostMax, max: hostMax });
    const giveRoom = setInterval(() => {
      if (!host.gauge.roomWanted()) return;
      // Room freed since the refusal (a connection closed, a worker exited and the master gave
      // its count back) is the refused client's for its retry: a connection closed for it now
      // would be closed for nobody. (daemon-accept: after a SIGKILL the master freed the dead
      // worker's slots, and a refusal from before it still closed a client's kept-alive connection.)
      for (let free = hostMax - host.gauge.total(); free > 0 && host.gauge.takeRoomWanted(); free--);
      const now = performance.now();
      for (let socket = idle.first(now); socket && host.gauge.takeRoomWanted(); socket = idle.first(now)) {
        idle.remove(socket);
        idleClosed++;
        idleClosures.count(hostFullFields);
        // Its slot goes back to the host before the connection closes, not at its 'close' a
        // turn of the loop later: a client that retries as soon as it sees the close must find
        // the room it was refused for.
        if (counted.delete(socket)) host.gauge.release();
        socket.destroy();
      }
    }, ROOM_CHECK_MS).unref();
    server.once('close', () => clearInterval(giveRoom));
  }

  server.on('connection', (socket: CappedSocket) => {
    const refusal = full();
    if (refusal) {
      // An idle connection's slot, in this worker's count and in the host's gauge, passes to the new one.
      const leaving = takeIdle();
      if (!leaving) {
        // The other workers may hold idle connections: one of them closes one for the retry.
        host?.gauge.wantRoom(hostMax);
        if (fdBudget !== undefined && counted.size + overCap >= fdBudget) {
          refuseNow(socket, refusal, countRefusal);
          return;
        }
        overCap++;
        socket[OVER_CAP] = refusal;
        // A deadline from its arrival, not an inactivity timeout: socket.setTimeout is pushed back
        // by every byte read, so a client trickling its headers (a slowloris) kept its over-cap
        // connection open until CORRAL_HEADERS_TIMEOUT and was answered 408, never the 503.
        const deadline = setTimeout(() => overCapDeadline(socket, refusal, countRefusal), OVER_CAP_IDLE_MS);
        socket.once('close', () => {
          overCap--;
          clearTimeout(deadline);
        });
        return;
      }
      idleClosed++;
      idleClosures.count(fieldsOf(refusal));
      // Closed between requests, as node:http closes one at the keep-alive timeout. Its slot is
      // the new connection's at once; its own 'close' comes a tick later and finds it uncounted.
      counted.delete(leaving);
      leaving.destroy();
    }
    counted.add(socket);
    const now = performance.now();
    idle.accepted(socket, now);
    peak.rose(counted.size, now);
    socket.once('close', () => {
      // Uncounted already when its slot went to a new connection: that one gives it back.
      if (counted.delete(socket)) host?.gauge.release();
      idle.remove(socket);
    });
  });
  function countRefusal(refusal: Refusal): void {
    refused++;
    refusals.count(fieldsOf(refusal));
  }

  return {
    active: () => counted.size,
    connections: () => counted.values(),
    idleNow: () => idle.count(performance.now()),
    closeSilent() {
      // Closed at the second look in a row that finds it silent past its grace: bytesRead counts
      // what the worker has read, not what the client sent, and a loop held past the grace (a
      // loaded machine, a long GC pause) left a request sent at once after the connect unread in
      // the kernel; closed at the first look, that connection was reset with its request
      // unanswered. Between two looks (the drain's sweeps, a timer apart) the loop has polled and
      // read every socket that was ready.
      const silent = idle.silentPastGrace(performance.now());
      const next = new Set<TrackedSocket>();
      for (const socket of silent) {
        if (!silentAtLastLook.has(socket)) {
          next.add(socket);
          continue;
        }
        idle.remove(socket);
        socket.destroy();
      }
      silentAtLastLook = next;
    },
    setLimit(next) {
      // Connections already open above a lowered cap stay; only new ones are refused.
      if (next === cap) return false;
      cap = next;
      return true;
    },
    setHostMax(next) {
      if (!host || next === hostMax) return false;
      hostMax = next;
      return true;
    },
    setHostFull(isFull, current, max) {
      if (host) return;
      hostFull = isFull ? { current, max, mine: Math.min(counted.size, hostFull?.mine ?? Infinity) } : undefined;
    },
    screen(req, res, now) {
      const socket = req.socket as CappedSocket;
      const used = socket[OVER_CAP];
      if (!used) {
        idle.busy(socket);
        peak.rose(counted.size, now);
        return false;
      }
      // Its 503 went out on the raw socket at the deadline, before this request was read whole.
      if (socket[ANSWERED]) return true;
      socket[ANSWERED] = true;
      const { body, headers } = refusalAnswer(used);
      // Its body, if one is on its way, is dropped as it comes (node:http dumps a request whose
      // answer is sent), until the client stops or the short linger ends. A request without one
      // leaves nothing unread: its connection closes at once, as cheap as before.
      if (req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0') lingerOnClose(socket, OVER_CAP_LINGER_MS);
      res.writeHead(statusOf('server_full'), headers);
      res.end(body);
      countRefusal(used);
      return true;
    },
    answerSent(res, now) {
      // A response closed before its answer went out whole: its connection is gone with it.
      if (!res.writableFinished) return;
      // node:http's 'finish' listener has run (the 'close' comes a tick after it): it handed the
      // connection to the next pipelined response, if one was waiting.
      const socket = res.req.socket as CappedSocket;
      if (socket._httpMessage || socket.destroyed || !counted.has(socket)) return;
      idle.answered(socket, now);
    },
    refused: () => refused,
    idleClosed: () => idleClosed,
    takeInterval() {
      const active = counted.size;
      const idleNow = idle.count(performance.now());
      const figures = { active, idle: idleNow, peakBusy: peak.take(active - idleNow), refused: refused - refusedAtBeat, idleClosed: idleClosed - idleClosedAtBeat };
      refusedAtBeat = refused;
      idleClosedAtBeat = idleClosed;
      return figures;
    },
  };
}
