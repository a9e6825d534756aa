// Forks real children: workers through node:cluster (they share the listening socket), the keeper
// through child_process.fork (one per host, no shared socket). Both get stderr piped to the
// master, which relays it line by line (stderr-relay.ts), stdout, which the master relays in whole
// lines (stdout-relay.ts), and a socketpair to their stack probe (src/stack-probe.ts), which the
// master reads a stuck child's stack through (CORRAL_STUCK_STACKS, stack-capture.ts) and whose
// closing at the master's death ends a child too stuck to exit by itself.

import { fork, type ChildProcess } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import type { Duplex } from 'node:stream';
import { connectionGaugeEnv, counterTableEnv, identityEnv, stackProbeEnv, stdoutJournalEnv, type ChildIdentity } from '../config/identity.js';
import type { Settings } from '../config/schema.js';
import type { ChildMessage } from '../ipc/messages.js';
import { masterChannel } from '../ipc/channel.js';
import type { ConnectionGauges } from './connection-gauges.js';
import type { HostCounterService } from './host-counters.js';
import type { ChildHandle } from './registry.js';
import { relayedStderrPriority } from '../log/journal.js';
import { relayStderr } from './stderr-relay.js';
import { writeIfOpen } from './closed-output.js';
import { relayStdout, type RelayedChild, type StdoutSink } from './stdout-relay.js';
import { preferChildForOomKill } from '../oom-score.js';

export interface SpawnedChild {
  readonly handle: ChildHandle;
  /** The master's end of the child's stack probe; undefined if the fork gave none (a failed fork). */
  readonly stackProbe: Duplex | undefined;
}

export interface ChildEvents {
  onMessage(msg: ChildMessage): void;
  /** `forkError`: the child was never created (fork(2) refused), and why. */
  onExit(code: number | null, signal: NodeJS.Signals | null, forkError?: Error): void;
}

export interface Spawner {
  spawn(identity: ChildIdentity, env: Readonly<Record<string, string>>, events: ChildEvents): SpawnedChild;
}

export interface SpawnerOptions {
  readonly workerExec: string;
  readonly keeperExec: string | undefined;
  /** Removes what children must not inherit (systemd's NOTIFY_SOCKET: only the master speaks to systemd). */
  readonly envFilter?: (env: Readonly<Record<string, string>>) => Readonly<Record<string, string>>;
  /**
   * The listening socket's settings as the master started with them (CORRAL_ACCEPT, CORRAL_BACKLOG).
   * Every worker gets these, even after a reload that changed them: the socket keeps its mode and
   * queue until a restart, and a worker's cap depends on the mode actually in force.
   */
  readonly listenSocket: { readonly accept: Settings['CORRAL_ACCEPT']; readonly backlog: number };
  /** Answers the workers' 'count' messages (the per-IP rate limit) without going through the arbiter. */
  readonly counters?: HostCounterService;
  /**
   * The host counters' shared table (counter-table.ts), handed to each worker as its fd
   * WORKER_COUNTER_TABLE_FD; unset: workers count through `counters` alone.
   */
  readonly counterTableFd?: number;
  /** The table's connection gauges: each worker is given its own (the host's cap under CORRAL_ACCEPT=shared). */
  readonly connectionGauges?: ConnectionGauges;
  /** stderr is the journal: each relayed stderr line gets its syslog priority (log/journal.ts). */
  readonly stderrJournal?: boolean;
  /**
   * Where children's stdout is relayed (the master's stdout destination); unset: they inherit
   * the master's stdout (tests).
   */
  readonly stdout?: StdoutSink;
  /** The master's stdout is the journal: relayed children write their lines with priorities. */
  readonly stdoutJournal?: boolean;
  /**
   * `stdout` is the log (no CORRAL_LOG_FILE): a line a child writes there outside corral's logger
   * (an app's console.log) is relayed as a JSON line of that child's (stdout-relay.ts).
   */
  readonly stdoutStructured?: boolean;
}

/**
 * How long a child's exit waits for the rest of its stdout to be relayed: its last lines (why it
 * exited) are in the pipe when the exit is seen, and a master that stops next would lose them. A
 * grandchild that inherited the pipe keeps it open: the exit is then reported after this long.
 */
export const STDOUT_END_WAIT_MS = 1000;

const STDIO: ['inherit', 'pipe' | 'inherit', 'pipe', 'ipc'] = ['inherit', 'pipe', 'pipe', 'ipc'];
/** Where a child finds its stack probe: the next fd after STDIO's. */
const STACK_PROBE_FD = STDIO.length;

function relayOf(stderr: NodeJS.ReadableStream | null | undefined, journal: boolean): void {
  if (stderr) relayStderr(stderr as import('node:stream').Readable, (line) => writeIfOpen(process.stderr, journal ? relayedStderrPriority(line) + line : line));
}

/**
 * The master's end of the child's stack probe. A write to a child that just died fails with EPIPE:
 * the capture reads that as no answer, and nothing else may throw it at the master. Held open for
 * the child's life even when CORRAL_STUCK_STACKS is off: its closing tells the child the master died.
 * A fork refused with EMFILE or ENFILE leaves the child no stdio at all (Node returns before
 * making it): read as no probe. Read as an array, it threw at the master's tick, before the
 * arbiter recorded the child, and so at every tick after (a reload under the open-files limit
 * wedged, past its bound, until a stop).
 */
function probeOf(stdio: ChildProcess['stdio'] | undefined): Duplex | undefined {
  const end = stdio?.[STACK_PROBE_FD] as Duplex | null | undefined;
  end?.on('error', () => {});
  return end ?? undefined;
}

/** Calls `report` once the child's stdout has been relayed to its end (or STDOUT_END_WAIT_MS passed). */
function afterStdout(stdout: NodeJS.ReadableStream | null | undefined, sink: StdoutSink | undefined, child: RelayedChild | undefined): (report: () => void) => void {
  if (!stdout || !sink) return (report) => report();
  const relay = relayStdout(stdout as import('node:stream').Readable, sink, child);
  return (report) => void relay.ended(STDOUT_END_WAIT_MS).then(report);
}

function attach(ep: Parameters<typeof masterChannel>[0], events: ChildEvents, counters?: HostCounterService) {
  const channel = masterChannel(ep);
  const forward = (m: ChildMessage) => events.onMessage(m);
  channel.listen({
    ready: forward,
    heartbeat: forward,
    'boot-failed': forward,
    retire: forward,
    drained: forward,
    // A malformed request gets no answer (the service logs it, once a minute): the worker's own
    // timeout then lets its requests through.
    ...(counters ? { count: (m) => void counters.answer(m).then((answer) => channel.send(answer), () => undefined) } : {}),
  });
  return channel;
}

/**
 * A fork that failed with EAGAIN (a pids or TasksMax limit), EMFILE or ENFILE gives a
 * ChildProcess with no pid that emits 'error' and 'close' but never 'exit': reported here as the
 * exit it stands for, once, with the error, or the arbiter would wait for that child for good (a
 * stop or reload that never ends). Node throws the other errnos (ENOMEM) from fork() itself:
 * forkOrFailed.
 */
export function reportFailedFork(proc: ChildProcess, events: ChildEvents): void {
  if (proc.pid !== undefined) return;
  let reported = false;
  const report = (err: Error | undefined) => {
    if (reported) return;
    reported = true;
    events.onExit(null, null, err ?? new Error('the child process was not created'));
  };
  proc.once('error', (err) => report(err));
  // 'error' comes first; a 'close' without one is still a child that never was.
  proc.once('close', () => setImmediate(() => report(undefined)));
}

/** A child handle for a fork that threw: no process, nothing to send to or kill. */
function noChild(): SpawnedChild {
  return { handle: { pid: -1, send: () => false, kill: () => undefined }, stackProbe: undefined };
}

/**
 * Forks with `create`; a fork that throws (ENOMEM, which Node throws rather than emits) is
 * reported as a failed fork, after the caller has its record of the child (on the next turn).
 */
function forkOrFailed<T>(create: () => T, events: ChildEvents): T | undefined {
  try {
    return create();
  } catch (err) {
    const error = err instanceof Error ? err : new Error(String(err));
    setImmediate(() => events.onExit(null, null, error));
    return undefined;
  }
}

function handleOf(pid: number | undefined, channel: ReturnType<typeof masterChannel>, proc: ChildProcess): ChildHandle {
  return {
    pid: pid ?? -1,
    send: (m) => channel.send(m),
    kill: (sig) => {
      try {
        // The process, not node:cluster's Worker#kill(), which disconnects the IPC channel first:
        // a worker that loses its channel without having been told to stop exits MASTER_GONE.
        proc.kill(sig);
      } catch {
        // already gone
      }
    },
  };
}

export function createSpawner(o: SpawnerOptions): Spawner {
  // node:cluster reads the policy when the first worker is forked and keeps it for the life of the
  // master (a reload that changes CORRAL_ACCEPT is told so in the log). SCHED_NONE: the master
  // binds the socket and every worker accepts on it; SCHED_RR: the master accepts each connection
  // and passes it to a worker over IPC. This overrides NODE_CLUSTER_SCHED_POLICY from the environment.
  cluster.schedulingPolicy = o.listenSocket.accept === 'shared' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  const socketEnv = { CORRAL_ACCEPT: o.listenSocket.accept, CORRAL_BACKLOG: String(o.listenSocket.backlog) };
  const baseStdio: typeof STDIO = o.stdout ? STDIO : ['inherit', 'inherit', 'pipe', 'ipc'];
  const stdoutEnv = o.stdout && o.stdoutJournal ? stdoutJournalEnv() : {};
  const relayed = (identity: ChildIdentity, pid: number | undefined): RelayedChild | undefined =>
    o.stdoutStructured === true && pid !== undefined ? { role: identity.role === 'keeper' ? 'keeper' : 'worker', workerId: identity.workerId, generation: identity.generation, pid, journal: o.stdoutJournal === true } : undefined;
  return {
    spawn(identity, env, events) {
      // A socketpair, both ways: the master asks, the child's probe answers. Every child gets one,
      // whatever CORRAL_STUCK_STACKS says (the master asks only when it does): the probe also
      // ends a child stuck in synchronous code when the master dies, which its JavaScript cannot.
      const stdio = [...baseStdio, 'pipe' as const];
      const probeEnv = stackProbeEnv(STACK_PROBE_FD);
      const fullEnv = { ...(o.envFilter ? o.envFilter(env) : env), ...socketEnv, ...stdoutEnv, ...probeEnv, ...identityEnv(identity) };
      if (identity.role === 'worker') {
        // The counter table, when there is one, is the fd after all of stdio's.
        const tableFd = o.counterTableFd;
        cluster.setupPrimary({ exec: o.workerExec, execArgv: [], stdio: tableFd === undefined ? stdio : [...stdio, tableFd], silent: false });
        let gauge = tableFd === undefined ? undefined : o.connectionGauges?.acquire();
        const tableEnv = tableFd === undefined ? {} : { ...counterTableEnv(stdio.length), ...(gauge === undefined ? {} : connectionGaugeEnv(gauge)) };
        // The gauge is freed at the process's exit, before the arbiter hears of it (which may fork
        // the replacement): not once its stdout is relayed, which a grandchild holding the pipe
        // delays by STDOUT_END_WAIT_MS, its connections meanwhile counted at the host's cap.
        const freeGauge = () => {
          if (gauge !== undefined) o.connectionGauges?.release(gauge);
          gauge = undefined;
        };
        const exited: ChildEvents = {
          onMessage: (m) => events.onMessage(m),
          onExit: (code, signal, forkError) => {
            freeGauge();
            events.onExit(code, signal, forkError);
          },
        };
        const worker = forkOrFailed<Worker>(() => cluster.fork({ ...fullEnv, ...tableEnv }), exited);
        if (!worker) return noChild();
        preferChildForOomKill('worker', worker.process.pid);
        const channel = attach(worker, exited, o.counters);
        const whenRelayed = afterStdout(worker.process.stdout, o.stdout, relayed(identity, worker.process.pid));
        worker.on('exit', freeGauge);
        worker.on('exit', (code, signal) => whenRelayed(() => exited.onExit(code, signal as NodeJS.Signals | null)));
        // EPIPE on a channel to a dying worker is expected; the exit event tells the story.
        worker.on('error', () => {});
        reportFailedFork(worker.process, exited);
        relayOf(worker.process.stderr, o.stderrJournal ?? false);
        return { handle: handleOf(worker.process.pid, channel, worker.process), stackProbe: probeOf(worker.process.stdio) };
      }
      if (!o.keeperExec) throw new Error('no keeper entry point configured');
      const keeperExec = o.keeperExec;
      const child = forkOrFailed<ChildProcess>(() => fork(keeperExec, [], { env: fullEnv, execArgv: [], stdio }), events);
      if (!child) return noChild();
      preferChildForOomKill('keeper', child.pid);
      const channel = attach(child, events);
      const whenRelayed = afterStdout(child.stdout, o.stdout, relayed(identity, child.pid));
      child.on('exit', (code, signal) => whenRelayed(() => events.onExit(code, signal)));
      child.on('error', () => {});
      reportFailedFork(child, events);
      relayOf(child.stderr, o.stderrJournal ?? false);
      return { handle: handleOf(child.pid, channel, child), stackProbe: probeOf(child.stdio) };
    },
  };
}
