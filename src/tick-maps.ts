// Keeps the hidden classes ("maps") of node's process.nextTick objects alive for the process's life.
//
// Each process.nextTick builds `{ [async_id_symbol], [trigger_async_id_symbol], callback, args }`
// (node's lib/internal/process/task_queues.js). V8 holds the maps that literal moves through only
// weakly, from its inline caches and the transition tree. A full GC at a moment when no tick object
// is alive (an idle worker between bursts of traffic, V8's memory reducer collecting once the
// allocation stops) frees them; the next ticks build new maps, the literal's caches, which take
// one map each, turn megamorphic, and from then on every tick object is built in V8's runtime:
// measured on node 20 (2-core box), 285–340 ns a tick after such a GC against 58–86 ns before it,
// for good. An HTTP request schedules about ten ticks (node:http's and the streams' own), so a
// process that met such a GC served each request about 3 µs slower for the rest of its life,
// which showed as workers of one build differing by 20–30 % in CPU per cached GET
// (bench/HISTORY.md). One object of the same shape, kept here, holds the maps; it costs 56 bytes.
//
// The symbols are node's own (an AsyncResource carries the same two); on a node where they are not
// found, or the literal differs, this keeps an object that holds nothing of use, and changes nothing else.

import { AsyncResource } from 'node:async_hooks';

let kept: object | undefined;

/** Idempotent; call once, early, in each corral process (master, worker, keeper). */
export function keepTickObjectMaps(): void {
  if (kept !== undefined) return;
  const resource = new AsyncResource('corral.tick-maps');
  const symbols = Object.getOwnPropertySymbols(resource);
  const asyncId = symbols.find((s) => s.description === 'async_id_symbol');
  const triggerId = symbols.find((s) => s.description === 'trigger_async_id_symbol');
  if (asyncId === undefined || triggerId === undefined) {
    kept = {};
    return;
  }
  const ids = resource as unknown as Record<symbol, number>;
  // The keys in the literal's order, with values of the kinds a tick carries (numbers, a
  // function, undefined args): another order or kind would be another map, and hold nothing.
  kept = { [asyncId]: ids[asyncId], [triggerId]: ids[triggerId], callback: keepTickObjectMaps, args: undefined };
}
