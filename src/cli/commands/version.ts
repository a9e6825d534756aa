import { readFileSync } from 'node:fs';
import { parseFlags, type Command } from '../command.js';

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export const versionCommand: Command = {
  name: 'version',
  help: 'Usage: corral version\n\nPrints the corral version and the Node.js version.\n\nExit codes: 0 printed, 64 an unknown option or argument.',
  async run(argv) {
    parseFlags(argv, {});
    process.stdout.write(`corral ${packageVersion()} (node ${process.version})\n`);
    return 0;
  },
};
