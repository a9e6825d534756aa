// The host counters live in a table in memory shared by the master and its workers: every worker
// maps the master's table (and closes the fd it was handed), and a worker killed and replaced
// counts on in the same table, so a client's budget survives worker crashes.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { prepareWorkDir } from '../fixtures/offline-sheet.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';

const TOKEN = 'integration-admin-token-1234';

/** The fds `pid` holds on the host counter table. */
function tableFds(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).filter((fd) => {
    try {
      return readlinkSync(`/proc/${pid}/fd/${fd}`).includes('memfd:corral-host-counters');
    } catch {
      return false;
    }
  });
}

/** The inode of the host counter table `pid` maps (memfd:corral-host-counters), or undefined. */
function mappedTable(pid: number): string | undefined {
  const line = readFileSync(`/proc/${pid}/maps`, 'utf8')
    .split('\n')
    .find((l) => l.includes('memfd:corral-host-counters'));
  return line?.trim().split(/\s+/)[4];
}

describe('host counter table on the real master', { skip: process.arch !== 'x64' && 'the host_counters addon is built on x86-64 only' }, () => {
  let c: CorralProcess;
  let dir: string;
  before(async () => {
    dir = prepareWorkDir();
    c = await startCorral({ cwd: dir, workers: 2, env: { CORRAL_RATE_LIMIT: '20', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const workers = async () =>
    (await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } })).json<{ workers: { pid: number; state: string }[] }>().workers;
  const get = () => http(`${c.url}/api/players`, { headers: { connection: 'close', 'x-forwarded-for': '198.51.100.61' } });

  it('every worker maps one table; replacements of killed workers map the same one and go on counting the same budgets', async () => {
    const first = (await workers()).map((w) => w.pid);
    assert.equal(first.length, 2);
    const tables = first.map(mappedTable);
    assert.ok(tables[0], 'worker maps memfd:corral-host-counters');
    assert.equal(tables[1], tables[0]);
    // Mapped, and the fd closed: processes an app spawns do not inherit the table.
    assert.deepEqual(first.map(tableFds), [[], []]);
    assert.equal(tableFds(c.pid).length, 1, 'the master keeps its fd for the workers it forks later');

    for (let i = 0; i < 15; i++) assert.equal((await get()).status, 200);
    // One at a time, so that the listening socket always has a worker.
    for (const [i, pid] of first.entries()) {
      process.kill(pid, 'SIGKILL');
      await waitFor(async () => (await workers()).filter((w) => w.state === 'ready' && !first.includes(w.pid)).length === i + 1, 30_000, `replacement worker ${i + 1}`);
    }
    const replacements = (await workers()).map((w) => w.pid);
    assert.deepEqual(replacements.map(mappedTable), [tables[0], tables[0]]);

    // 15 of the 20 were spent before the crash: 5 more, then 429.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await get()).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  });
});
