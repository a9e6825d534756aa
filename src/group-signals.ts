// The signals a child (worker or keeper) must not die of, or be stopped by, when they reach the
// master's whole process group: Ctrl-C in the terminal of a `corral start` in the foreground (INT),
// that terminal or ssh session closing (HUP), gunicorn's upgrade signal (USR2), USR1 (reopen the
// log), which without a listener has Node open the V8 inspector on 127.0.0.1:9229, and the
// master's other signals sent to every process of the unit (`systemctl kill --signal=TTIN corral`
// without --kill-who=main, `kill -QUIT -<pgid>`): TTIN and TTOU, whose default action stopped
// every worker and the keeper (state T) until the master killed them all as silent at
// CORRAL_TIMEOUT, the port unanswered meanwhile; QUIT, whose default action ended each of them at
// once (dumping core where cores are kept), each exit an error, rather than the fast stop the
// master carries out. The master acts on each and tells its children what to do.
//
// Registered by the child's entry file as its first statement, before it imports the rest of
// corral: an ES module's static imports are all loaded before its first line runs, which takes
// 0.1 s on an idle host and over a second on a 2-core host forking eight workers at once, and a
// Ctrl-C in that window killed the booting keeper and workers by its default action. Node's own
// start, before any JavaScript, is the window left. Imports nothing, so it loads at once.

const SIGNALS = ['SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU', 'SIGQUIT'] as const;

/** No-op listeners; the listeners the child adds later (USR1's log reopen) run beside them. */
export function ignoreGroupSignals(): void {
  for (const signal of SIGNALS) process.on(signal, () => {});
}
