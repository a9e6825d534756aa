// Runs the master: pidfile, logger, signals → intents, the arbiter, and an orderly exit.

import { existsSync } from 'node:fs';
import { loadSettings, type LoadedSettings } from '../config/load.js';
import { EXIT, describeError } from '../errors.js';
import { createLogger } from '../log/logger.js';
import { Arbiter, type Intent } from './arbiter.js';
import { noopNotifier, type Notifier } from './notify.js';
import { removePidfile, writePidfile } from './pidfile.js';
import { createSpawner } from './spawner.js';

export interface MasterEntryPoints {
  /** Compiled worker entry (forked through node:cluster). */
  readonly workerExec: string;
  /** Compiled keeper entry, if the Sheets keeper should run. */
  readonly keeperExec: string | undefined;
}

/** Signals and the intent each records. Handlers do nothing else. */
const SIGNAL_INTENTS: Readonly<Partial<Record<NodeJS.Signals, Intent>>> = {
  SIGTERM: 'stop',
  SIGINT: 'stop',
  SIGQUIT: 'quit',
  SIGHUP: 'reload',
  SIGTTIN: 'ttin',
  SIGTTOU: 'ttou',
  SIGUSR1: 'reopen-logs',
};

export interface MasterHooks {
  /** Creates the systemd notifier (sd-notify.ts); defaults to a no-op. */
  readonly notifier?: (logger: import('../log/logger.js').Logger) => Notifier;
}

export async function runMaster(loaded: LoadedSettings, entry: MasterEntryPoints, hooks: MasterHooks = {}): Promise<void> {
  const settings = loaded.settings;
  const log = createLogger(settings, { role: 'master' });
  const logger = log.logger;
  const pidfile = settings.CORRAL_PIDFILE;
  if (pidfile) writePidfile(pidfile);
  const notifier = hooks.notifier?.(logger) ?? noopNotifier;
  const keeperExec = entry.keeperExec && existsSync(entry.keeperExec) ? entry.keeperExec : undefined;

  let arbiter: Arbiter | undefined;
  const exit = (code: number) => {
    if (pidfile) removePidfile(pidfile);
    notifier.close();
    logger.info({ event: 'master.exit', code }, `master exiting with code ${code}`);
    log.flush();
    process.exit(code);
  };

  arbiter = new Arbiter({
    loaded,
    reloadSettings: () => loadSettings(),
    spawner: createSpawner({ workerExec: entry.workerExec, keeperExec, inspectable: settings.CORRAL_STUCK_STACKS }),
    withKeeper: keeperExec !== undefined,
    logger,
    reopenLogs: () => log.reopen(),
    notifier,
    onExit: exit,
  });

  for (const [signal, intent] of Object.entries(SIGNAL_INTENTS)) {
    process.on(signal as NodeJS.Signals, () => arbiter?.record(intent));
  }
  process.on('uncaughtException', (err) => {
    // The master must outlive its own bugs long enough to stop its children cleanly.
    logger.fatal({ event: 'master.uncaught', code: 'CORRAL_ERR_UNCAUGHT', err: describeError(err) }, 'uncaught exception in the master');
    arbiter?.record('stop');
    setTimeout(() => exit(EXIT.UNCAUGHT), (settings.CORRAL_GRACEFUL_TIMEOUT + 5) * 1000).unref();
  });
  arbiter.start();
}
