// CLI entry: dispatches to a subcommand and maps errors to named exit codes.

import { editDistance } from '../edit-distance.js';
import { CorralError, EXIT, exitCodeFor } from '../errors.js';
import { readOpenFilesLimit } from '../fd-limit.js';
import { listenForSignalIntents } from '../master/signal-intents.js';
import { commandModule, commands } from './commands/index.js';
import { asksForJson, usageRefusal, type Command, type CommandEntry } from './command.js';
import { shownArgs, unknownOptionHint } from './flag-hints.js';
import { sayRefusal } from './say-refusal.js';

function usage(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: corral <command> [options]',
    '',
    'A process supervisor for Node.js HTTP apps (master + workers), with a cached Google Sheets layer.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `corral <command> --help` (or `corral help <command>`) for details and its exit codes (64 for an unknown command or option, always).',
    'Settings come from .env and the environment; see `corral config`.',
  ].join('\n');
}

/** Commands operators reach for that corral spells another way. */
const OTHER_SPELLINGS: Readonly<Record<string, string>> = {
  restart:
    'corral has no restart: `corral reload` replaces the workers without dropping a request (settings, the app); to restart (after upgrading corral itself, or for what a reload leaves until a restart: restart_needed), `systemctl restart corral` under systemd, else `corral stop`, then `corral start`',
  run: 'did you mean start? (it runs in the foreground)',
  serve: 'did you mean start? (it runs in the foreground)',
  kill: 'did you mean stop? (`corral stop --fast` does not wait for in-flight requests)',
  validate: 'did you mean config? (it exits 78 when start would refuse the settings)',
  check_config: 'did you mean config? (it exits 78 when start would refuse the settings)',
};

/**
 * A typo of a command (`stauts`), a command corral spells another way (`restart`), an option
 * given before the command (`corral --json status`, `corral -c FILE start`): options follow it, or
 * a setting's flag given with no command (`corral --port 8000`).
 */
function unknownCommandHint(name: string, rest: readonly string[]): string {
  const other = OTHER_SPELLINGS[name.toLowerCase()];
  if (other) return `: ${other}`;
  const command = name.startsWith('-') ? rest.find((a) => commands.some((c) => c.name === a)) : undefined;
  if (command !== undefined) {
    const options = rest.slice(0, rest.indexOf(command));
    return `: options follow the command, as in corral ${[command, ...shownArgs([name, ...options])].join(' ')}`;
  }
  // An option with no command (`corral --workers 4`, `corral --port 8000`, as other servers are
  // started): what start would say of it, the setting it names.
  // A short flag's value may be attached (`-w4`), as getopt takes it.
  const option = /^-[^-]/.test(name) ? name.slice(0, 2) : name;
  const setting = name.startsWith('-') ? unknownOptionHint(option, [name, ...rest], [], true) : '';
  if (setting) return `${setting}; the command that starts corral is \`corral start\``;
  const near = commands.map((c) => ({ name: c.name, d: editDistance(name.toLowerCase(), c.name) })).sort((a, b) => a.d - b.d)[0];
  return near && near.d <= 2 ? `: did you mean ${near.name}?` : '';
}

/**
 * An option of some commands given with none (`corral --json`, `corral --fast`): the commands that
 * take it, by their usage line and their list of options. Their help texts live in their modules,
 * loaded here for this refusal only.
 */
async function optionWithNoCommandHint(name: string, rest: readonly string[]): Promise<string> {
  const flag = name.replace(/=.*$/, '');
  if (!/^--?[A-Za-z][\w-]*$/.test(flag)) return '';
  // Followed by neither a word character nor a dash: `--allow` is no option of the commands that
  // take --allow-remote, nor `--no` of stop's --no-wait (a \b matched there, and the hint gave a
  // command line the command refuses).
  const listed = new RegExp(`^\\s+(?:-\\w, )?${flag}(?![\\w-])`, 'm');
  const helps = await Promise.all(commands.map(async (c) => ({ name: c.name, help: (await c.load().catch(() => undefined))?.help ?? '' })));
  const takers = helps.filter(({ help }) => (help.split('\n')[0] ?? '').split(/[\s[\]|]+/).includes(flag) || listed.test(help)).map((c) => c.name);
  if (takers.length === 0) return '';
  const who = takers.length === 1 ? `${takers[0]} takes` : `${takers.slice(0, -1).join(', ')} and ${takers.at(-1)} take`;
  return `: options follow the command; ${who} ${flag} (corral ${[takers[0] ?? '', ...shownArgs([name, ...rest])].join(' ')})`;
}

/**
 * EMFILE or ENFILE (an open-files limit of a few dozen: the master loads its modules and opens its
 * pipes, sockets and log) as CORRAL_ERR_FD_LIMIT, with the limit and the fix: exit 78 as for
 * settings (systemd does not restart into it), not a raw Node stack; and with --json, in the
 * command's JSON answer. Undefined when `err` is something else. `when`: before the command's
 * modules were loaded, or while it ran.
 */
export function outOfDescriptors(err: unknown, when: string): CorralError | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code !== 'EMFILE' && code !== 'ENFILE') return undefined;
  // Read now, with no descriptor to spare, the limit may not be readable: then only its name.
  const soft = readOpenFilesLimit()?.soft;
  const limit = soft === undefined ? ' (its open-files limit, ulimit -n)' : ` (the open-files limit is ${soft})`;
  const what = code === 'ENFILE' ? 'the host ran out of file descriptors (ENFILE: fs.file-max)' : `this process ran out of file descriptors${limit}`;
  return new CorralError('CORRAL_ERR_FD_LIMIT', `${what} ${when}: ${(err as Error).message}; ${FD_LIMIT_FIX}`);
}

function sayFdLimit(command: string, what: string): void {
  sayRefusal(`corral ${command}: [CORRAL_ERR_FD_LIMIT] ${what}; ${FD_LIMIT_FIX}\n`);
  process.exitCode = EXIT.CONFIG;
}

/** The fix for a limit too low; bin/corral repeats it (a unit test keeps the two equal). */
export const FD_LIMIT_FIX = 'raise the limit (ulimit -n 65536 in the shell, LimitNOFILE=65536 in the unit; corral needs a few hundred, and its workers their connections on top)';

/**
 * The fewest open files `corral start` is let to start with: the master loads some hundred modules,
 * several at once, and under about 72 it ran out while doing so. Below this it is refused before
 * anything is loaded: run out, node's module loader may report a file it could not open as a
 * package that does not exist (ERR_MODULE_NOT_FOUND), which says nothing of the limit.
 */
export const START_MIN_OPEN_FILES = 128;

export async function main(argv: readonly string[]): Promise<void> {
  // `corral config | head` closes the pipe early; that is not an error. A command that says what
  // its output meant by its exit code (loadtest's verdict) handles it itself.
  let closedStdoutEndsWithZero = true;
  /** A closed stdout leaves the command's exit code as it is (Command.exitCodeIsVerdict). */
  let closedStdoutKeepsExit = false;
  const [name, ...rest] = argv;
  /** The exit code of an answer stdout could not take: the command's own for a failure it did not foresee. */
  let outputLostExit: number = EXIT.FAILURE;
  let outputLost = false;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (!closedStdoutEndsWithZero) return;
    if (err.code === 'EPIPE') {
      if (closedStdoutKeepsExit) return;
      process.exit(0);
    }
    // A full disk (`corral config --json > settings.json`), an I/O error: the answer is missing or
    // cut short. Swallowed here, the command exited 0 and a script read the empty file as its answer.
    if (outputLost) return;
    outputLost = true;
    process.stderr.write(`corral${name ? ` ${name}` : ''}: [CORRAL_ERR_OUTPUT] its answer could not be written to stdout (${err.code ?? err.message}), so what was printed is missing or cut short; free the space (or fix where stdout goes) and run it again\n`);
    process.exitCode = outputLostExit;
  });
  // A closed stderr (`corral chek 2>&1 | true`) costs its lines, not the exit code: unhandled, the
  // EPIPE was an uncaught exception, exit 1 where a usage error says 64, and `systemd-unit
  // --output F` died at its first warning with the unit unwritten. The master adds its own
  // listener (master/closed-output.ts), which says it in the log.
  process.stderr.on('error', () => {});
  if (!name) {
    // No command is a usage error: the usage goes to stderr, as with any other.
    process.stderr.write(`${usage()}\n`);
    process.exitCode = EXIT.USAGE;
    return;
  }
  // `corral help start` is `corral start --help`; `corral help` alone is `corral --help`.
  if (name === 'help' && rest.length > 0) return main([rest[0] ?? '', '--help', ...rest.slice(1)]);
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    process.exitCode = 0;
    return;
  }
  if (name === '--version' || name === '-v') argv = ['version', ...rest];
  const entry = commands.find((c) => c.name === (argv[0] ?? ''));
  outputLostExit = entry?.internalErrorExit ?? EXIT.FAILURE;
  if (!entry) {
    const hint = unknownCommandHint(name, rest) || (await optionWithNoCommandHint(name, rest));
    // The value of a secret option given with no command (`corral --admin-token=…`) is not repeated.
    process.stderr.write(`corral: [CORRAL_ERR_USAGE] unknown command "${shownArgs([name])[0] ?? name}"${hint}\n\n${usage()}\n`);
    process.exitCode = EXIT.USAGE;
    return;
  }
  if (entry.name === 'start') {
    // The master's signals are listened for before its modules load (some hundreds of ms) and
    // long before its pidfile names it: a reload, a stop or a log reopen sent meanwhile is
    // recorded for the arbiter, not met by the default action (signal-intents.ts).
    listenForSignalIntents();
    const soft = readOpenFilesLimit()?.soft;
    if (soft !== undefined && soft < START_MIN_OPEN_FILES) {
      sayFdLimit(name, `the open-files limit is ${soft} (ulimit -n), too low for corral to start (it needs ${START_MIN_OPEN_FILES} at the least)`);
      return;
    }
  }
  let command: Awaited<ReturnType<typeof entry.load>>;
  try {
    command = await entry.load();
  } catch (err) {
    // Loading the command's modules is where a tiny open-files limit shows first.
    const fdLimit = outOfDescriptors(err, 'before corral could start');
    if (fdLimit) {
      sayRefusal(`corral ${name}: [${fdLimit.code}] ${fdLimit.message}\n`);
      process.exitCode = exitCodeFor(fdLimit);
      return;
    }
    // A file cut short names neither its file nor its line in the error import() throws: they are
    // found as a worker's are. Imported here only, so that a module of that finding cut short
    // fails no command but this one, said without its place.
    const located =
      err instanceof Error
        ? await import('../own-code-load.js').then(
            (m) => m.placeOfOwnCodeError(commandModule(entry.name), err),
            () => undefined,
          )
        : undefined;
    const said = commandLoadFailure(entry, err, located?.place);
    sayRefusal(said.stderr);
    process.exitCode = said.exitCode;
    return;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    process.exitCode = 0;
    return;
  }
  if (command.handlesClosedStdout === true) closedStdoutEndsWithZero = false;
  if (command.exitCodeIsVerdict === true) closedStdoutKeepsExit = true;
  try {
    process.exitCode = await command.run(rest);
  } catch (err) {
    const refusal = err instanceof CorralError ? err : (outOfDescriptors(err, 'while the command ran') ?? err);
    const said = commandFailure(command, rest, refusal, entry.internalErrorExit);
    if (said.stdout !== undefined) process.stdout.write(said.stdout);
    sayRefusal(said.stderr);
    process.exitCode = said.exitCode;
  }
  // The write error may be emitted before the command's code is set (a tick later): it wins.
  if (outputLost) process.exitCode = outputLostExit;
}

/** What a command whose own code cannot be loaded says to do (bin/corral says it too). */
export const CODE_LOAD_FIX =
  'its files changed while this command started (npm ci or git pull in its directory) or are incomplete (a file cut short); once the build is whole again (npm ci in its directory rebuilds dist/, or reinstall corral), run the command again';

/**
 * A command whose own modules could not be loaded: corral's files changed under it (`npm ci` or
 * `git pull` in its directory deletes and rebuilds them) or are incomplete. It printed Node's
 * unhandled rejection, with no code and, for `status`, exit 1, which says corral runs. `place`:
 * the file and line of a file that does not parse (placeOfOwnCodeError), which the error lacks.
 * bin/corral says the same of the CLI's entry (test/unit/cli-launcher.test.ts keeps them alike).
 */
export function commandLoadFailure(entry: Pick<CommandEntry, 'name' | 'internalErrorExit'>, err: unknown, place?: string): { stderr: string; exitCode: number } {
  const message = err instanceof Error ? err.message : String(err);
  return {
    stderr: `corral ${entry.name}: [CORRAL_ERR_CODE_LOAD] corral's own code could not be loaded (${message}${place === undefined ? '' : ` in ${place}`}): ${CODE_LOAD_FIX}\n`,
    exitCode: entry.internalErrorExit ?? EXIT.FAILURE,
  };
}

/**
 * What a command that threw says, and its exit code: a CorralError with its code (a refused
 * command line with the command's usage line); anything else is an error corral did not foresee,
 * said with its stack as CORRAL_ERR_INTERNAL. Asked for JSON, the command's refusal goes on stdout
 * either way: a script reading `corral status --json` never gets an empty answer.
 */
export function commandFailure(command: Pick<Command, 'name' | 'help' | 'jsonRefusal'>, argv: readonly string[], err: unknown, internalErrorExit: number = EXIT.FAILURE): { stdout?: string; stderr: string; exitCode: number } {
  const known = err instanceof CorralError;
  const message = err instanceof Error ? err.message : String(err);
  const refused = known ? err : new CorralError('CORRAL_ERR_INTERNAL', `${message} (an error corral did not foresee: a bug; its stack is on stderr)`);
  const stdout = command.jsonRefusal !== undefined && asksForJson(argv) ? `${JSON.stringify(command.jsonRefusal(refused), null, 2)}\n` : undefined;
  if (!known) {
    const stack = err instanceof Error && err.stack !== undefined ? err.stack : message;
    return { stdout, stderr: `corral ${command.name}: [CORRAL_ERR_INTERNAL] an error corral did not foresee (a bug: please report it with this stack): ${stack}\n`, exitCode: internalErrorExit };
  }
  if (err.code === 'CORRAL_ERR_USAGE') return { stdout, stderr: usageRefusal(command, `[${err.code}] ${err.message}`), exitCode: exitCodeFor(err) };
  return { stdout, stderr: `corral ${command.name}: [${err.code}] ${err.message}\n`, exitCode: exitCodeFor(err) };
}
