// The master's signals and the intent each records, listened for from the first moment a process
// is known to be `corral start` (src/cli/main.ts, before it loads the master's modules), not from
// when the arbiter exists. The pidfile names the master some 50-100 ms before that (the logger,
// the notifier and the arbiter are made after it), and a signal sent in between by whoever reads
// it (`corral reload` or `corral stop` run right after a start, logrotate's postrotate
// `kill -USR1 "$(cat corral.pid)"`) met the default action: SIGHUP killed the master, leaving its
// pidfile stale, and SIGUSR1 had Node open the V8 inspector on 127.0.0.1:9229 for the master's
// whole life, where any local user could run code as corral's user (the children guard against
// the same from their first statement: group-signals.ts). Intents recorded before the arbiter
// exists are kept, in order, and handed to it once it does. Imports only node:os at run time, so it
// loads at once.

import { constants } from 'node:os';
import type { Intent } from './arbiter-options.js';

/** Signals and the intent each records. Handlers do nothing else. */
export const SIGNAL_INTENTS: Readonly<Partial<Record<NodeJS.Signals, Intent>>> = {
  SIGTERM: 'stop',
  SIGINT: 'stop',
  SIGQUIT: 'quit',
  SIGHUP: 'reload',
  SIGTTIN: 'ttin',
  SIGTTOU: 'ttou',
  SIGUSR1: 'reopen-logs',
  // Not used by corral, but gunicorn's (and nginx's, unicorn's) binary upgrade: without a
  // listener its default action killed the master at once, requests in flight cut, the pidfile
  // left stale and not a line in the log. It is said and ignored instead.
  SIGUSR2: 'usr2',
};

export interface SignalIntents {
  /** Hands `record` every intent recorded so far, in order, and every later one. */
  deliverTo(record: (intent: Intent) => void): void;
}

let listening: SignalIntents | undefined;

/** Intents that stop the master: a second one before the arbiter exists ends the process at once. */
const STOPS: ReadonlySet<Intent> = new Set<Intent>(['stop', 'quit']);

/**
 * Listens for the master's signals (once per process: a second call returns the same listener).
 * Signal listeners do not keep the process alive: a start refused before the arbiter exists
 * still exits. A second stop (Ctrl-C twice, TERM then QUIT) before the arbiter exists exits at
 * once, as the signal's default action did: the first waits for the arbiter to stop the master
 * cleanly, but whatever holds the start up meanwhile (a slow disk, a module that takes long to
 * load) must not make Ctrl-C do nothing. No child has been forked then; a pidfile already written
 * names a dead process, which the next start and `corral status` take for stale.
 */
export function listenForSignalIntents(): SignalIntents {
  if (listening) return listening;
  const pending: Intent[] = [];
  let record: ((intent: Intent) => void) | undefined;
  for (const [signal, intent] of Object.entries(SIGNAL_INTENTS)) {
    process.on(signal as NodeJS.Signals, () => {
      if (record) return record(intent);
      if (STOPS.has(intent) && pending.some((p) => STOPS.has(p))) {
        process.stderr.write(`corral: ${signal} again while starting: exiting now, before any worker was started\n`);
        process.exit(128 + (constants.signals[signal as NodeJS.Signals] ?? 0));
      }
      pending.push(intent);
    });
  }
  listening = {
    deliverTo(to) {
      record = to;
      for (const intent of pending.splice(0)) to(intent);
    },
  };
  return listening;
}
