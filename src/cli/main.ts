// CLI entry: dispatches to a subcommand and maps errors to named exit codes.

import { editDistance } from '../edit-distance.js';
import { CorralError, EXIT, exitCodeFor } from '../errors.js';
import { commands } from './commands/index.js';

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
    'Run `corral <command> --help` for details and its exit codes (64 for an unknown command or option, always).',
    'Settings come from .env and the environment; see `corral config`.',
  ].join('\n');
}

/** Commands operators reach for that corral spells another way. */
const OTHER_SPELLINGS: Readonly<Record<string, string>> = {
  restart: 'corral has no restart: `corral reload` replaces the workers without dropping a request; under systemd, `systemctl restart corral` stops and starts the master',
  run: 'did you mean start? (it runs in the foreground)',
  serve: 'did you mean start? (it runs in the foreground)',
  kill: 'did you mean stop? (`corral stop --fast` does not wait for in-flight requests)',
  validate: 'did you mean config? (it exits 78 when start would refuse the settings)',
  check_config: 'did you mean config? (it exits 78 when start would refuse the settings)',
};

/** A typo of a command (`stauts`), or a command corral spells another way (`restart`). */
function unknownCommandHint(name: string): string {
  const other = OTHER_SPELLINGS[name.toLowerCase()];
  if (other) return `: ${other}`;
  const near = commands.map((c) => ({ name: c.name, d: editDistance(name.toLowerCase(), c.name) })).sort((a, b) => a.d - b.d)[0];
  return near && near.d <= 2 ? `: did you mean ${near.name}?` : '';
}

export async function main(argv: readonly string[]): Promise<void> {
  // `corral config | head` closes the pipe early; that is not an error. A command that says what
  // its output meant by its exit code (loadtest's verdict) handles it itself.
  let closedStdoutEndsWithZero = true;
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE' && closedStdoutEndsWithZero) process.exit(0);
  });
  const [name, ...rest] = argv;
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
  if (!entry) {
    process.stderr.write(`corral: unknown command "${name}"${unknownCommandHint(name)}\n\n${usage()}\n`);
    process.exitCode = EXIT.USAGE;
    return;
  }
  const command = await entry.load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    process.exitCode = 0;
    return;
  }
  if (command.handlesClosedStdout === true) closedStdoutEndsWithZero = false;
  try {
    process.exitCode = await command.run(rest);
  } catch (err) {
    if (err instanceof CorralError && err.code === 'CORRAL_ERR_USAGE') {
      // The usage line, not the whole help: after 40 lines of options (emulator, loadtest) the
      // one line that says what was wrong would have scrolled out of sight.
      const usageLine = command.help.split('\n')[0] ?? '';
      process.stderr.write(`corral ${command.name}: ${err.message}\n${usageLine}\nRun \`corral ${command.name} --help\` for the options and exit codes.\n`);
      process.exitCode = exitCodeFor(err);
    } else if (err instanceof CorralError) {
      process.stderr.write(`corral ${command.name}: [${err.code}] ${err.message}\n`);
      process.exitCode = exitCodeFor(err);
    } else {
      process.stderr.write(`corral ${command.name}: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exitCode = EXIT.FAILURE;
    }
  }
}
