// The host counters' table in memory shared by the master and its workers (native/host_counters.c,
// built by node-gyp with the sd_notify addon): the master creates it and hands each worker its fd;
// a worker counts a hit there synchronously, in about a tenth of a microsecond, where asking the
// master over IPC cost tens of microseconds of CPU per request and an event-loop turn of waiting.
// The table is bounded; a key it has no room for is counted by the master, as before (see
// native/host_counters.c for how a key is kept from being counted in both places).
// After the table: one connection gauge per live worker, which makes the host's connection cap
// exact when workers accept on their own (CORRAL_ACCEPT=shared), and in the header a count of
// connections refused for want of room, which the workers holding idle connections answer by
// closing one each: see connection-gauge.ts.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CounterHit } from './contract.js';
import { CorralError } from './errors.js';

/** Slots of the master's table: 16 bytes each, 16 MiB, touched only as keys arrive. */
export const COUNTER_TABLE_SLOTS = 1 << 20;
/** Connection gauges: one per live worker (up to 512 workers, twice that during a reload, and TTIN's). */
export const CONNECTION_GAUGES = 4096;
/** A window's count saturates at 2^24 - 1 in the table: higher limits are counted by the master. */
export const COUNTER_TABLE_MAX_LIMIT = 2 ** 24 - 2;
/** The table's answer packs hits * 2^27 + ms until the window ends (the longest window is < 2^27 ms). */
const MS_FACTOR = 2 ** 27;

interface Addon {
  create(slots: number, gauges: number): number;
  open(fd: number): object;
  hit(table: object, key: string, limit: number, windowSeconds: number, peek: boolean): number;
  slots(table: object): number;
  gaugeAdd(table: object, index: number, delta: number): number;
  gaugeReset(table: object, index: number): number;
  gauges(table: object): number;
  roomWant(table: object, ttlMs: number, max: number): number;
  roomTake(table: object): boolean;
  roomWanted(table: object): number;
}

export interface CounterTable {
  readonly slots: number;
  /** How many connection gauges follow the table (indexes 0 to gauges - 1). */
  readonly gauges: number;
  /** Adds `delta` to gauge `index` (one worker's open connections); returns the host's total after. */
  addConnections(index: number, delta: number): number;
  /** Zeroes gauge `index`, whose worker has exited; returns the count it held. */
  resetGauge(index: number): number;
  /**
   * Counts one connection refused for want of room (at most `max` at once); the count lapses
   * `ttlMs` after the first refusal it holds. Returns the count.
   */
  wantRoom(ttlMs: number, max: number): number;
  /** Takes one refusal from the count, unless it is empty or has lapsed; true when one was taken. */
  takeRoomWanted(): boolean;
  /** Refusals in the count not yet taken (0 once lapsed). */
  roomWanted(): number;
  /**
   * Counts one hit of `key` (peek: reads its count), as HostCounters.hit() and peek() do;
   * undefined when the table has no room for the key (or `limit` is above COUNTER_TABLE_MAX_LIMIT),
   * and the key is then to be counted by the master.
   */
  count(key: string, limit: number, windowSeconds: number, peek: boolean): CounterHit | undefined;
}

/** Where node-gyp puts the addon, relative to the package root (dist/src -> ../..). */
function addonPath(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../build/Release/host_counters.node');
}

let addon: Addon | undefined;

function loadAddon(): Addon {
  if (addon) return addon;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new CorralError('CORRAL_ERR_COUNTER_TABLE', `the host_counters addon is missing (${path}); rebuild it with \`npm rebuild\` or \`npm ci\` (needs python3, make and gcc)`);
  }
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
    return addon;
  } catch (err) {
    throw new CorralError('CORRAL_ERR_COUNTER_TABLE', `cannot load the host_counters addon ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** A new, empty table; returns its fd (close-on-exec: children get it only when handed it). */
export function createCounterTable(slots: number = COUNTER_TABLE_SLOTS, gauges: number = CONNECTION_GAUGES): number {
  return loadAddon().create(slots, gauges);
}

/** Maps the table behind `fd`; throws CORRAL_ERR_COUNTER_TABLE when it is not one. */
export function openCounterTable(fd: number): CounterTable {
  const native = loadAddon();
  const table = native.open(fd);
  return {
    slots: native.slots(table),
    gauges: native.gauges(table),
    addConnections: (index, delta) => native.gaugeAdd(table, index, delta),
    resetGauge: (index) => native.gaugeReset(table, index),
    wantRoom: (ttlMs, max) => native.roomWant(table, ttlMs, max),
    takeRoomWanted: () => native.roomTake(table),
    roomWanted: () => native.roomWanted(table),
    count(key, limit, windowSeconds, peek) {
      if (limit > COUNTER_TABLE_MAX_LIMIT) return undefined;
      const r = native.hit(table, key, limit, windowSeconds, peek);
      if (r < 0) return undefined;
      const hits = Math.floor(r / MS_FACTOR);
      return {
        // A hit is within the limit up to the limit-th; a peek asks whether one more would be.
        allowed: peek ? hits < limit : hits <= limit,
        remaining: Math.max(0, limit - hits),
        msBeforeReset: r - hits * MS_FACTOR,
      };
    },
  };
}
