// Entry point of a worker process (forked by the master through node:cluster).
// Its start's parts that are concepts of their own: the shared table (shared-table.ts), the
// heartbeat's figures (heartbeat-figures.ts), the caps' sizes (cap-sizes.ts), a listen failure's
// message (listen-failure.ts).

import { loadSettings } from '../config/load.js';
import { readIdentity } from '../config/identity.js';
import type { AppContext } from '../contract.js';
import { CorralError, EXIT, describeError, errorHeadline, exitCodeFor, codeOf } from '../errors.js';
import { heartbeatIntervalMs } from '../heartbeat-interval.js';
import { childChannel } from '../ipc/channel.js';
import { createChildLogger } from '../log/child-logger.js';
import { flushAndExit } from '../log/flush-and-exit.js';
import type { CorralLogger } from '../log/logger.js';
import { RepeatedFailure } from '../log/repeated-failure.js';
import type { SheetsClient } from '../sheets/types.js';
import { appFailureLasts, loadApp } from './app-loader.js';
import { listenFailureLasts } from './boot-lasting.js';
import { capSizes } from './cap-sizes.js';
import { createCounterClient } from './counter-client.js';
import { startHeartbeat } from './heartbeat.js';
import { workerFigures } from './heartbeat-figures.js';
import { listenFailure } from './listen-failure.js';
import type { MasterGoneExit } from './master-gone.js';
import { createWorkerServer } from './server.js';
import { useSharedTable } from './shared-table.js';
import { createSheetsAccess } from './sheets-access.js';
import type { OomPreference } from '../oom-score.js';
import { masterGoneExit, startStackProbe } from '../stack-probe.js';

/** A master slower than this to count a request lets it through (see the bundled app's rate limit). */
const COUNTER_TIMEOUT_MS = 2000;

/**
 * `oom`: the raise of this worker's oom_score_adj, made before its modules were loaded (entry.ts);
 * `masterGone`: its exit when the master is gone, in place since before then too.
 */
export async function runWorker(oom: OomPreference, masterGone: MasterGoneExit): Promise<void> {
  const identity = readIdentity() ?? { role: 'worker' as const, workerId: 0, generation: 0 };
  const channel = childChannel();
  // Ctrl-C reaches the whole process group; the master decides how workers stop.
  process.on('SIGINT', () => {});
  // So does a hangup (the terminal or ssh session of a `corral start` in the foreground closing,
  // `kill -HUP -<pgid>`, `systemctl kill --signal=HUP` without --kill-who=main): the master
  // reloads on it and replaces this worker after a drain. Without a listener, SIGHUP's default
  // action killed every worker and the keeper at once, requests in flight cut mid-reload.
  process.on('SIGHUP', () => {});
  // The master ignores USR2 (gunicorn's upgrade signal) and says so; a worker it reaches too
  // (`systemctl kill --signal=USR2 corral`) must not die of it, as it did by the default action.
  // An app's own USR2 listener (a heap dump) still runs.
  process.on('SIGUSR2', () => {});

  let settings;
  let log: CorralLogger | undefined;
  // USR1 means "reopen the log file" in every corral process (`systemctl kill --signal=USR1
  // corral` reaches the workers too). Without a listener, Node answers it by opening the V8
  // inspector on 127.0.0.1:9229, which any local user can connect to and run code in.
  process.on('SIGUSR1', () => log?.reopen());
  try {
    // The key and the Redis CA are the keeper's (see LoadOptions.readFiles).
    settings = loadSettings({ readFiles: false }).settings;
    // The master opened the same file at its start; a path that cannot be opened now (a rotation
    // gone wrong) sends this worker's lines to its stdout rather than failing its boot.
    log = createChildLogger(settings, { role: 'worker', worker: identity.workerId, generation: identity.generation });
  } catch (err) {
    const d = describeError(err);
    channel.send({ type: 'boot-failed', code: codeOf(d, 'CORRAL_ERR_CONFIG_INVALID'), message: d.message });
    process.exit(exitCodeFor(err));
  }
  const logger = log.logger;
  if (!oom.ok) {
    logger.warn(
      { event: 'worker.oom_score_unset', reason: oom.reason },
      `cannot raise this worker's oom_score_adj (${oom.reason}): under memory pressure the kernel may kill the master before a worker`,
    );
  }
  // Before the app is imported: an import that blocks the loop is a stuck boot whose stack is
  // wanted, and a master killed meanwhile must not leave it spinning (the probe's orphan exit).
  startStackProbe(logger, masterGoneExit('worker', identity, log.file()));
  masterGone.logTo(log);

  let server: ReturnType<typeof createWorkerServer> | undefined;
  /** The host's capacity as the master last told it, for the health answer. */
  let hostCapacity: { status: string; percent_used: number } | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  const sheets = createSheetsAccess(settings, logger);
  const counters = createCounterClient((m) => channel.send(m), { timeoutMs: COUNTER_TIMEOUT_MS });
  const { hostCounters, gauge } = useSharedTable(logger, counters, settings.CORRAL_ACCEPT);
  let retireSent = false;
  const jitter = settings.CORRAL_MAX_REQUESTS_JITTER > 0 ? Math.floor(Math.random() * (settings.CORRAL_MAX_REQUESTS_JITTER + 1)) : 0;
  const maxRequests = settings.CORRAL_MAX_REQUESTS > 0 ? settings.CORRAL_MAX_REQUESTS + jitter : 0;

  const heartbeat = startHeartbeat(
    heartbeatIntervalMs(settings.CORRAL_TIMEOUT),
    (figures) => channel.send({ type: 'heartbeat', figures }),
    () => workerFigures(server, sheets),
    {
      onMemoryUnreadable: (err) =>
        logger.warn(
          { event: 'worker.memory_unreadable', code: 'CORRAL_ERR_FD_LIMIT', err: describeError(err) },
          `cannot read this worker's memory use (${(err as Error).message}): its heartbeats carry the last RSS read; said once`,
        ),
    },
  );

  let exiting = false;
  // `event`: what failed, for the worker's own line (the master's worker.boot_failed names it too).
  const bootFail = (err: unknown, exitCode: number, event: 'app.load_failed' | 'worker.listen_failed' = 'app.load_failed', lasting = false) => {
    // The first failure is the one to report: the master keeps one reason per worker, and what
    // follows it (an exception thrown while exiting) would only hide the app's own error.
    if (exiting) return;
    exiting = true;
    const d = describeError(err);
    channel.send({ type: 'boot-failed', code: codeOf(d, 'CORRAL_ERR_APP_LOAD'), message: d.message, ...(d.stack ? { stack: d.stack } : {}), ...(lasting ? { lasting } : {}) });
    logger.error({ event, code: d.code, err: d }, d.message);
    void flushAndExit(log, exitCode);
  };

  // Set by an uncaught exception after ready: however the drain that follows was started (the
  // master's 'drain' usually comes first), the worker exits EXIT.UNCAUGHT, not 0.
  let crashed = false;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  // Set while listen() waits for the master: a drain must let it settle, then close the server.
  let listening: Promise<unknown> | undefined;
  /** The master was told this worker is ready: from then on it drains it through IPC, never by SIGTERM. */
  let toldReady = false;
  const drainAndExit = async (gracefulMs: number, code: number, hostStopping: boolean) => {
    if (exiting) return;
    exiting = true;
    await listening?.catch(() => undefined);
    await server?.drain(gracefulMs, hostStopping);
    // Every request is counted once the drain ends: those figures reach the master now, before
    // the close hooks. A hook that blocks the event loop until the master's kill at the drain
    // deadline would otherwise cost its totals the requests served since the last beat.
    heartbeat.beat();
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        logger.warn({ event: 'worker.close_failed', err: describeError(err) }, 'cleanup hook failed');
      }
    }
    await sheets.close();
    // The last figures (the Sheets client's, as it closed) reach the master before 'drained'.
    heartbeat.stop({ final: true });
    // Exit only on the master's 'release' (see MasterMessage): it proves no connection is still
    // on its way to this worker. A master that is gone ends the wait through 'disconnect'.
    if (channel.send({ type: 'drained' })) await released;
    uncaught.ended((total) => {
      if (total > 1) logger.error({ event: 'worker.uncaught_total', code: 'CORRAL_ERR_UNCAUGHT', uncaught_total: total }, `${total} uncaught exceptions in all before this worker exited`);
    });
    // A drain its master's death cut short (masterGone's cut) exits as an orphan does: 0 would
    // say a drain the master asked for ended as it should.
    await flushAndExit(log, crashed ? EXIT.UNCAUGHT : masterGone.gone ? EXIT.MASTER_GONE : code);
  };

  let ready = false;
  // A worker whose code throws at every request keeps serving until its replacement is ready and
  // it is told to drain: each throw was a line with its stack, a retire message and a timer
  // (thousands a second). The first is said in full and retires the worker; the rest are counted,
  // said at most once a minute, and in all as the worker exits.
  const uncaught = new RepeatedFailure();
  const sayUncaught = (err: unknown, since: number, total: number): void => {
    if (total === 1) logger.error({ event: 'worker.uncaught', code: 'CORRAL_ERR_UNCAUGHT', err: describeError(err) }, 'uncaught exception: draining this worker');
    else logger.error({ event: 'worker.uncaught', code: 'CORRAL_ERR_UNCAUGHT', err: describeError(err), uncaught: since, uncaught_total: total }, `${since} more uncaught exceptions while this worker drains (${total} in all); the latest`);
  };
  process.on('uncaughtException', (err) => {
    // Before ready, there is nothing to drain: it is a failed boot, and the master counts it.
    if (!ready) return bootFail(err, EXIT.UNCAUGHT);
    uncaught.failed((since, total) => sayUncaught(err, since, total));
    if (crashed) return;
    crashed = true;
    // The master starts a replacement first, then tells this worker to drain; the timer is the
    // fallback if the master never answers.
    channel.send({ type: 'retire', reason: 'uncaught', error: errorHeadline(err) });
    setTimeout(() => void drainAndExit(settings.CORRAL_GRACEFUL_TIMEOUT * 1000, EXIT.UNCAUGHT, false), settings.CORRAL_GRACEFUL_TIMEOUT * 1000).unref();
  });
  // No 'unhandledRejection' listener on purpose: Node then raises it as an uncaught exception,
  // so a forgotten rejection gets the same policy as a throw (log, replace, drain, exit).

  let toldHostStopping = false;
  // The master is gone mid-drain: no one will wait for the rest, nor kill this worker at the
  // deadline; the drain's forced close cuts what is left now, each cut said in its access line.
  const cutNow = async () => {
    await server?.drain(0);
  };
  channel.listen({
    drain: (m) => {
      masterGone.stopAsked(cutNow);
      // Already draining (a TERM, then a QUIT): only the deadline may change, and only earlier.
      // A master that does not say (an older build) meant a stop as often as not: health says so.
      const hostStopping = m.hostStopping ?? true;
      if (exiting) {
        // Draining for a reload when the stop came: from now on health answers 503.
        if (hostStopping && !toldHostStopping) logger.info({ event: 'worker.draining', reason: m.reason, host_stopping: true }, 'draining: the host is stopping');
        toldHostStopping ||= hostStopping;
        return void server?.drain(m.gracefulMs, hostStopping);
      }
      toldHostStopping = hostStopping;
      logger.info({ event: 'worker.draining', reason: m.reason, host_stopping: hostStopping }, 'draining');
      void drainAndExit(m.gracefulMs, EXIT.OK, hostStopping);
    },
    release: () => release(),
    'reopen-logs': () => log.reopen(),
    counted: (m) => counters.onCounted(m),
    'keeper-restarting': (m) => sheets.keeperRestarting(m.waitMs),
    'keeper-ready': () => sheets.keeperReady(),
    capacity: (m) => {
      // A master of an older corral (its code upgraded under it, then a reload) sends neither.
      if (typeof m.status === 'string' && typeof m.percentUsed === 'number') hostCapacity = { status: m.status, percent_used: m.percentUsed };
      if (!server) return;
      server.cap.setHostFull(m.full, m.current, m.max);
      server.cap.setHostMax(m.max);
      // With a gauge the host's cap is the only one: the kernel's spread is uneven, and a worker
      // may hold what others leave free.
      const workerCap = caps.withinFds(gauge ? m.max : m.workerCap);
      if (server.cap.setLimit(workerCap)) {
        const whose = gauge ? "the host's cap, shared by every worker" : "this worker's share of the host's cap";
        logger.info({ event: 'worker.cap', cap: workerCap }, `connection cap now ${workerCap} (${whose}, from the master's worker count)`);
      }
    },
  });
  process.on('SIGTERM', () => {
    masterGone.stopAsked(cutNow);
    // Said as the master's drain is: without it, a TERM sent to the group (or to this worker
    // alone) left no line of this worker's about its drain, only the master's exit line after it.
    // Only once the master knows it serves: the master itself stops a worker still booting with
    // SIGTERM (a stop, a superseded reload), which is no TERM from outside (review).
    if (!exiting && toldReady) logger.info({ event: 'worker.draining', reason: 'SIGTERM', host_stopping: true }, 'draining: SIGTERM sent to this worker itself, not through the master');
    toldHostStopping = true;
    void drainAndExit(settings.CORRAL_GRACEFUL_TIMEOUT * 1000, EXIT.OK, true);
  });

  const ctx: AppContext = {
    settings,
    logger,
    get sheets(): SheetsClient | undefined {
      return sheets.client();
    },
    hostCounters,
    workerId: identity.workerId,
    generation: identity.generation,
    ...(identity.generationReadyAt === undefined ? {} : { generationReadyAt: identity.generationReadyAt }),
    onClose: (fn) => void closers.push(fn),
  };

  const caps = capSizes(settings, identity);
  let listener;
  try {
    listener = await loadApp(settings.CORRAL_APP, ctx);
  } catch (err) {
    return bootFail(err, EXIT.APP_LOAD_ERROR, 'app.load_failed', appFailureLasts(err));
  }
  // Told to stop while the app was loading (a shutdown, or a newer generation superseding this
  // one): never listen, or the master would hand connections to a worker on its way out.
  if (exiting) return;

  try {
    server = createWorkerServer(listener, {
      settings,
      logger,
      accessLogger: settings.CORRAL_ACCESS_LOG ? log.access() : undefined,
      workerId: identity.workerId,
      generation: identity.generation,
      perWorkerCap: caps.firstCap(gauge !== undefined),
      ...(gauge ? { hostGauge: { gauge, max: caps.hostMax } } : {}),
      ...(caps.fdBudget === undefined ? {} : { fdBudget: caps.fdBudget }),
      hostCapacity: () => hostCapacity,
      onServed: (served) => {
        if (maxRequests > 0 && served >= maxRequests && !retireSent) {
          retireSent = true;
          logger.info({ event: 'worker.max_requests', served, limit: maxRequests }, 'max requests reached, asking to be recycled');
          channel.send({ type: 'retire', reason: 'max-requests' });
        }
      },
    });
  } catch (err) {
    return bootFail(err, EXIT.FAILURE);
  }
  try {
    const listen = server.listen();
    listening = listen;
    const { address, port } = await listen;
    if (exiting) return;
    ready = true;
    logger.info({ event: 'worker.listening', address, port }, `listening on ${address}:${port}`);
    channel.send({ type: 'ready', address, port, rssBytes: process.memoryUsage.rss() });
    toldReady = true;
  } catch (err) {
    bootFail(new CorralError('CORRAL_ERR_LISTEN', listenFailure(settings.CORRAL_BIND, err), { cause: err }), EXIT.LISTEN_ERROR, 'worker.listen_failed', listenFailureLasts(err));
  }
}
