// The signals a child (worker or keeper) must not die of when they reach the master's whole
// process group: Ctrl-C in the terminal of a `corral start` in the foreground (INT), that
// terminal or ssh session closing (HUP), gunicorn's upgrade signal (USR2), and USR1 (reopen the
// log), which without a listener has Node open the V8 inspector on 127.0.0.1:9229. The master
// acts on each and tells its children what to do.
//
// Registered by the child's entry file as its first statement, before it imports the rest of
// corral: an ES module's static imports are all loaded before its first line runs, which takes
// 0.1 s on an idle host and over a second on a 2-core host forking eight workers at once, and a
// Ctrl-C in that window killed the booting keeper and workers by its default action. Node's own
// start, before any JavaScript, is the window left. Imports nothing, so it loads at once.

const SIGNALS = ['SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;

/** No-op listeners; the listeners the child adds later (USR1's log reopen) run beside them. */
export function ignoreGroupSignals(): void {
  for (const signal of SIGNALS) process.on(signal, () => {});
}
