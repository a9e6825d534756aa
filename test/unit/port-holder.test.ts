import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { describeHolder, portHolders, type PortHolder } from '../../src/port-holder.js';

test('portHolders names the process listening on a port, read from /proc, with its command line and parent', async () => {
  const child = spawn(process.execPath, ['-e', "const s = require('net').createServer().listen(0, '127.0.0.1', () => console.log(s.address().port)); setTimeout(() => {}, 60000);"], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
      child.once('exit', () => reject(new Error('the listener exited')));
    });
    const holders = portHolders(port);
    assert.deepEqual(holders.map((h) => h.pid), [child.pid]);
    assert.match(holders[0]!.command, /createServer/);
    assert.equal(holders[0]!.parentPid, process.pid);
  } finally {
    child.kill('SIGKILL');
  }
});

test("portHolders leaves out this process and says nothing of a port nobody listens on", async () => {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  try {
    assert.deepEqual(portHolders(port), []);
  } finally {
    await new Promise((resolve) => s.close(resolve));
  }
  assert.deepEqual(portHolders(port), []);
  assert.deepEqual(portHolders(port, '/nonexistent'), []);
});

const holder = (command: string, parentPid: number | undefined, parentCommand: string | undefined): PortHolder => ({ pid: 4242, command, parentPid, parentCommand });

test('describeHolder tells an orphaned corral worker from a running corral, and from any other process', () => {
  const worker = 'node /opt/corral/dist/src/worker/entry.js';
  assert.equal(describeHolder(holder(worker, 1, 'init')), `pid 4242 (${worker}), a corral worker whose master is gone (its parent is pid 1; \`kill -9 4242\`)`);
  assert.equal(describeHolder(holder(worker, 77, 'node /opt/corral/bin/corral start')), `pid 4242 (${worker}), a worker of the corral master pid 77 (another corral already runs here: \`corral status\`)`);
  assert.match(describeHolder(holder('node /opt/corral/bin/corral start', 1, 'init')), /^pid 4242 \(node \/opt\/corral\/bin\/corral start\), a corral master/);
  assert.equal(describeHolder(holder('nginx: master process', 1, undefined)), 'pid 4242 (nginx: master process)');
});
