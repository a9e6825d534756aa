import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseFlags } from '../../src/cli/command.js';
import { configCommand } from '../../src/cli/commands/config.js';
import { systemdUnitCommand } from '../../src/cli/commands/systemd-unit.js';
import { usageError } from '../helpers/usage-error.js';

test('an option given twice is refused, naming it and its values, whatever the command: parseArgs would keep the last without a word', async () => {
  const flags = { workers: { type: 'string' }, fast: { type: 'boolean' } } as const;
  assert.throws(() => parseFlags(['--workers', '4', '--workers=8'], flags), usageError(/^Option --workers is given 2 times \("4", "8"\): give it once$/));
  assert.throws(() => parseFlags(['--fast', '--fast'], flags), usageError(/^Option --fast is given 2 times: give it once$/));
  assert.equal(parseFlags(['--workers', '4', '--fast'], flags).values.workers, '4');
  // The unit would have been sized for 8 workers while the command line also said 4.
  await assert.rejects(systemdUnitCommand.run(['--workers', '4', '--workers', '8']), usageError(/Option --workers is given 2 times \("4", "8"\)/));
});

test('a secret given twice is named, never echoed', () => {
  const flags = { 'admin-token': { type: 'string' }, 'api-key': { type: 'string' } } as const;
  assert.throws(() => parseFlags(['--admin-token', 'first-secret-0123456789', '--admin-token', 'second-secret-0123456789'], flags), usageError(/^Option --admin-token is given 2 times: give it once$/));
  assert.throws(() => parseFlags(['--api-key=k1-secret', '--api-key=k2-secret'], flags), usageError(/^Option --api-key is given 2 times: give it once$/));
});

test('config --json --example is refused rather than printing one of them', async () => {
  await assert.rejects(configCommand.run(['--json', '--example']), usageError(/--json and --example cannot be combined/));
});
