// Every subcommand, in the order `corral --help` lists them, with its one-line summary. A command's
// module is loaded only when that command runs (or its --help is asked): loadtest, check and
// recommend pull in HTTP clients, histograms and the Sheets client, and importing all of them made
// every `corral status` and every master start pay for them (0.68 s of CPU to import all commands,
// 0.29 s for status alone, on a 2-core Xeon).

import { EXIT } from '../../errors.js';
import type { CommandEntry } from '../command.js';

/**
 * The module a command's load() imports: each is named as its command. A failure to load it is
 * located there (a file of its graph that does not parse: src/cli/main.ts).
 */
export function commandModule(name: string): URL {
  return new URL(`./${name}.js`, import.meta.url);
}

export const commands: readonly CommandEntry[] = [
  { name: 'start', summary: 'Start the master and its workers in the foreground.', load: async () => (await import('./start.js')).startCommand,
    // An error start did not foresee (before the master ran, or its own code not loadable): 70,
    // as a crash of the master, which systemd restarts; 1 is "already running" in its help.
    internalErrorExit: EXIT.UNCAUGHT,
  },
  { name: 'reload', summary: 'Zero-downtime reload of a running corral (SIGHUP to the master).', load: async () => (await import('./reload.js')).reloadCommand },
  { name: 'stop', summary: 'Stop a running corral gracefully (SIGTERM), or fast with --fast (SIGQUIT).', load: async () => (await import('./stop.js')).stopCommand },
  { name: 'status', summary: 'Show the master and each worker (pid, generation, uptime, requests); non-zero when not running.', load: async () => (await import('./status.js')).statusCommand,
    // Whether corral runs is not known when status failed on an error corral did not foresee:
    // LSB's 4, not 1, which says it runs (a script reading the exit code alone took a bug for a
    // running corral).
    internalErrorExit: EXIT.STATUS_UNKNOWN,
  },
  { name: 'config', summary: 'Print the effective settings and where each came from.', load: async () => (await import('./config.js')).configCommand },
  { name: 'systemd-unit', summary: 'Print a systemd unit (corral.service) for this install.', load: async () => (await import('./systemd-unit.js')).systemdUnitCommand },
  { name: 'check', summary: 'Verify the Google Sheets credentials and sheet access, and print a verdict.', load: async () => (await import('./check.js')).checkCommand },
  { name: 'emulator', summary: 'Run a local Google Sheets API emulator (token endpoint, values API, quotas, faults).', load: async () => (await import('./emulator.js')).emulatorCommand },
  { name: 'loadtest', summary: 'Load-test a corral app with virtual users: verdict, JSON result and HTML report.', load: async () => (await import('./loadtest.js')).loadtestCommand },
  { name: 'recommend', summary: 'Recommend CORRAL_WORKERS, CORRAL_WORKER_CONNECTIONS and a capacity for this machine.', load: async () => (await import('./recommend.js')).recommendCommand },
  { name: 'version', summary: 'Print the corral version.', load: async () => (await import('./version.js')).versionCommand },
];
