// An option given with no command: its hint names only the commands that take it, and a secret's
// value is never repeated (stderr goes to terminals' scrollback, CI logs and the journal). And a
// command's own wait asked for with --timeout is not CORRAL_TIMEOUT.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commands } from '../../src/cli/commands/index.js';
import { main } from '../../src/cli/main.js';
import { usageError } from '../helpers/usage-error.js';

// main() adds its listeners to stdout and stderr at each call.
process.stdout.setMaxListeners(50);
process.stderr.setMaxListeners(50);

/** What `corral ...args` says on stderr, and its exit code; run in this process. */
async function refusal(...args: string[]): Promise<{ stderr: string; code: number | string | undefined }> {
  const write = process.stderr.write;
  let stderr = '';
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  const before = process.exitCode;
  try {
    await main(args);
    return { stderr, code: process.exitCode };
  } finally {
    process.stderr.write = write;
    process.exitCode = before;
  }
}

describe('an option with no command', () => {
  it('never repeats a secret given with it', async () => {
    for (const args of [
      ['--admin-token=s3cr3t-token-0123456789'],
      ['--admin-token', 's3cr3t-token-0123456789'],
      ['--admin-token=s3cr3t-token-0123456789', 'loadtest'],
      ['--admin-token', 's3cr3t-token-0123456789', 'loadtest', '--target', 'http://127.0.0.1:1'],
      ['--api-key=s3cr3t-token-0123456789'],
      ['--api-key', 's3cr3t-token-0123456789'],
      ['--session-secret=s3cr3t-token-0123456789'],
    ]) {
      const { stderr, code } = await refusal(...args);
      assert.equal(code, 64, args.join(' '));
      assert.match(stderr, /^corral: \[CORRAL_ERR_USAGE\] unknown command "/, args.join(' '));
      assert.ok(!stderr.includes('s3cr3t'), `${args.join(' ')} repeated the secret: ${stderr.split('\n')[0]}`);
    }
    // A proxy URL's password, whose setting is shown with it masked (HTTPS_PROXY is no secret whole):
    // it was repeated in "unknown command" and in "as in corral start --https-proxy ...".
    for (const args of [
      ['--https-proxy=http://me:s3cr3t@proxy:3128'],
      ['--https-proxy', 'http://me:s3cr3t@proxy:3128', 'start'],
      ['--http-proxy=http://me:s3cr3t@proxy:3128', 'status'],
    ]) {
      const { stderr, code } = await refusal(...args);
      assert.equal(code, 64, args.join(' '));
      assert.ok(!stderr.includes('s3cr3t'), `${args.join(' ')} repeated the proxy's password: ${stderr.split('\n')[0]}`);
      assert.match(stderr, /me:\*\*\*@proxy:3128/, args.join(' '));
    }
    // The command meant is still said, the value shown where it is no secret.
    assert.match((await refusal('--admin-token=x', 'loadtest')).stderr, /options follow the command, as in corral loadtest --admin-token=<secret, not shown>\n/);
    assert.match((await refusal('--json', 'status')).stderr, /as in corral status --json\n/);
    assert.match((await refusal('--users=5')).stderr, /loadtest takes --users \(corral loadtest --users=5\)/);
  });

  it('names only commands that take that very option, not one it begins', async () => {
    // --allow-remote, stop's --no-wait, the emulator's --token-error-rate and --latency-ms.
    for (const flag of ['--allow=1', '--no', '--token=x', '--latency=5']) {
      const { stderr } = await refusal(flag);
      assert.match(stderr, new RegExp(`^corral: \\[CORRAL_ERR_USAGE\\] unknown command "${flag.replace(/=.*/, '')}[^"]*"\\n`), `${flag}: ${stderr.split('\n')[0]}`);
    }
    assert.match((await refusal('--allow-remote')).stderr, /loadtest and recommend take --allow-remote/);
    assert.match((await refusal('--no-wait')).stderr, /stop takes --no-wait/);
  });
});

describe("a command's own wait asked for with --timeout", () => {
  it('is said to be no CORRAL_TIMEOUT by status and check, as by stop and reload', async () => {
    for (const [command, says] of [
      ['status', /^Unknown option '(?:--timeout|-t)': status takes no timeout: .*CORRAL_TIMEOUT is the workers' heartbeat timeout, not this wait\)$/],
      ['check', /^Unknown option '(?:--timeout|-t)': check takes no timeout: .*SHEETS_TIMEOUT.*CORRAL_TIMEOUT is the workers' heartbeat timeout, not this wait\)$/],
    ] as const) {
      const entry = commands.find((c) => c.name === command);
      assert.ok(entry);
      const run = (await entry.load()).run;
      for (const args of [['--timeout', '5'], ['--timeout=5'], ['-t', '5']]) {
        // "set CORRAL_TIMEOUT=5 there" had an operator lower the workers' heartbeat timeout.
        await assert.rejects(run(args), usageError(says), `${command} ${args.join(' ')}`);
      }
    }
  });
});
