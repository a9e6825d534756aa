// The per-IP rate limit is one budget for the whole host: a client spreading its requests over
// 8 workers gets 429 after CORRAL_RATE_LIMIT requests in total, not 8 times that.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { prepareWorkDir } from '../fixtures/offline-sheet.js';

const TOKEN = 'integration-admin-token-1234';

describe('rate limit across workers on the real master', () => {
  let c: CorralProcess;
  let dir: string;
  before(async () => {
    dir = prepareWorkDir();
    c = await startCorral({ cwd: dir, workers: 8, env: { CORRAL_RATE_LIMIT: '100', CORRAL_ADMIN_TOKEN: TOKEN, CORRAL_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a client hitting 8 workers gets 429 after 100 requests in total', async () => {
    const statuses: number[] = [];
    let last429: Awaited<ReturnType<typeof http>> | undefined;
    // One connection per request: the master hands each to the next worker in turn. Ten at a time.
    for (let batch = 0; batch < 12; batch++) {
      const replies = await Promise.all(
        Array.from({ length: 10 }, () => http(`${c.url}/api/players`, { headers: { connection: 'close', 'x-forwarded-for': '198.51.100.23' } })),
      );
      for (const r of replies) {
        statuses.push(r.status);
        if (r.status === 429) last429 = r;
      }
    }
    assert.equal(statuses.filter((s) => s === 200).length, 100);
    assert.equal(statuses.filter((s) => s === 429).length, 20);
    assert.ok(last429);
    const retry = Number(last429.headers['retry-after']);
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${retry}`);
    assert.equal(last429.headers['ratelimit-limit'], '100');
    assert.equal(last429.headers['ratelimit-remaining'], '0');

    // The requests really were spread over the workers (figures arrive with the next heartbeats).
    await waitFor(async () => {
      const stats = await http(`${c.adminUrl}/api/admin/stats`, { headers: { authorization: `Bearer ${TOKEN}` } });
      return stats.json<{ workers: { requests_served: number | null }[] }>().workers.filter((w) => (w.requests_served ?? 0) > 0).length >= 4;
    }, 10_000, 'at least 4 workers reporting served requests');

    // Another client (by X-Forwarded-For from the trusted local proxy) has its own budget.
    const other = await http(`${c.url}/api/players`, { headers: { 'x-forwarded-for': '198.51.100.24' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers['ratelimit-remaining'], '99');
  });

  it('access lines name the client the trusted proxy forwarded for (client) beside the proxy itself (remote)', async () => {
    await http(`${c.url}/api/players?via=proxy`, { headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.25' } });
    await http(`${c.url}/api/players?via=none`);
    const line = (via: string) => c.events('access').find((l) => l.path === `/api/players?via=${via}`);
    await waitFor(() => (line('proxy') && line('none')) || undefined, 10_000, 'both access lines');
    // The last hop the trusted peer added is the client, as the rate limit counts it.
    assert.deepEqual([line('proxy')?.remote, line('proxy')?.client], ['127.0.0.1', '198.51.100.25']);
    assert.deepEqual([line('none')?.remote, 'client' in (line('none') ?? {})], ['127.0.0.1', false], 'no X-Forwarded-For: the peer is the client, said once');
  });
});

describe('the per-IP limit keys IPv6 clients by /64, and counts 404s, on the real master', () => {
  let c: CorralProcess;
  let dir: string;
  before(async () => {
    dir = prepareWorkDir();
    // Round-robin: two requests in a row reach both workers, which the 404 test below relies on
    // (with shared accept the kernel may give both to one worker).
    c = await startCorral({ cwd: dir, workers: 2, env: { CORRAL_ACCEPT: 'round-robin', CORRAL_RATE_LIMIT: '6', CORRAL_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  after(async () => {
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const get = (path: string, xff: string) => http(`${c.url}${path}`, { headers: { connection: 'close', 'x-forwarded-for': xff } });

  it('addresses of one /64 share a budget across workers; another /64 has its own', async () => {
    const statuses: number[] = [];
    // Seven addresses of 2001:db8:5:6::/64, as a host rotating its privacy addresses would use.
    for (let i = 1; i <= 7; i++) statuses.push((await get('/api/players', `2001:db8:5:6:${i.toString(16)}::${(i * 7919).toString(16)}`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200, 429]);
    const other = await get('/api/players', '2001:db8:5:7::1');
    assert.equal(other.status, 200);
    assert.equal(other.headers['ratelimit-remaining'], '5');
    // IPv4 clients stay one budget per address.
    assert.equal((await get('/api/players', '198.51.100.60')).status, 200);
    assert.equal((await get('/api/players', '198.51.100.61')).headers['ratelimit-remaining'], '5');
  });

  it('404s spend the budget: a scanner is refused after the limit, on every worker', async () => {
    const probes: number[] = [];
    for (let i = 0; i < 6; i++) probes.push((await get(`/probe/${i}`, '198.51.100.70')).status);
    assert.deepEqual(probes, Array(6).fill(404));
    // Each worker sends the counts of its 404s 20 ms after the first (or with its next routed
    // request's). A routed request is refused only once its count is the 7th: the six probes are
    // all counted then, by both workers.
    await waitFor(async () => (await get('/api/players', '198.51.100.70')).status === 429, 5000, 'a routed request refused');
    // Whichever worker takes it.
    for (let i = 0; i < 2; i++) assert.equal((await get('/api/players', '198.51.100.70')).status, 429);
    // And each worker, having seen the client over, refuses its probes too.
    for (let i = 0; i < 2; i++) assert.equal((await get(`/probe/after-${i}`, '198.51.100.70')).status, 429);
  });
});
