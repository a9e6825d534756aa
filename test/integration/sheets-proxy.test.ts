// corral behind an outbound proxy, as on a company host that reaches Google only through one: the
// real master, keeper and workers, the emulator behind a TLS front (an https:// SHEETS_API_URL, so
// the values calls tunnel through CONNECT as Google's do) and a real forward proxy on loopback
// that counts what it relayed. The key's token_uri stays http:// (absolute-form through
// HTTP_PROXY). Loopback is not exempt from the proxy (undici, like curl): the emulator on
// 127.0.0.1 is reached through it unless NO_PROXY names it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startEmulator, type Emulator } from '../../src/sheets/emulator/index.js';
import { startForwardProxy, type ForwardProxy } from '../fixtures/forward-proxy.js';
import { startTlsFront, type TlsFront } from '../fixtures/tls-front.js';
import { CORRAL_BIN, startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { makeCertificates, opensslMissing } from '../helpers/test-certs.js';

const USER = 'corral';
const PASSWORD = 's3cret-Pr0xy';

describe('Google calls through HTTPS_PROXY / HTTP_PROXY', { skip: opensslMissing }, () => {
  let emu: Emulator;
  let front: TlsFront;
  let dir: string;
  let caFile: string;
  const open: { close(): Promise<void> }[] = [];

  before(async () => {
    emu = await startEmulator();
    dir = mkdtempSync(join(tmpdir(), 'corral-proxy-'));
    const certs = makeCertificates(dir);
    caFile = certs.caFile;
    front = await startTlsFront(Number(new URL(emu.url).port), certs);
  });
  after(async () => {
    for (const o of open) await o.close();
    await front.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const proxyOf = async (o: Parameters<typeof startForwardProxy>[0] = {}): Promise<ForwardProxy> => {
    const p = await startForwardProxy(o);
    open.push(p);
    return p;
  };
  const settings = (extra: Record<string, string>): Record<string, string> => ({
    SHEET_ID: emu.spreadsheetId,
    SHEETS_API_URL: front.url,
    GOOGLE_SERVICE_ACCOUNT_JSON: JSON.stringify(emu.registerServiceAccount()),
    // The test CA, as an operator behind a TLS-inspecting proxy adds the company's.
    NODE_EXTRA_CA_CERTS: caFile,
    CORRAL_ACCESS_LOG: 'false',
    ...extra,
  });
  const start = (extra: Record<string, string>): Promise<CorralProcess> => startCorral({ workers: 1, env: settings(extra) });
  /** `corral check` with these settings, as an operator runs it. */
  const corralCheck = (extra: Record<string, string>) =>
    new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [CORRAL_BIN, 'check'], { env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: 'none', CORRAL_DATA_DIR: join(dir, 'check-data'), ...settings(extra) } }, (err, stdout) =>
        resolve({ code: typeof err?.code === 'number' ? err.code : 0, stdout }),
      );
    });
  const withCredentials = (p: ForwardProxy) => p.url.replace('http://', `http://${USER}:${PASSWORD}@`);

  it('the token request and the values calls go through the proxy, which asked for a password; the app serves /api/players; the password is never logged', async () => {
    const proxy = await proxyOf({ requireAuth: { user: USER, password: PASSWORD } });
    const c = await start({ HTTPS_PROXY: withCredentials(proxy), HTTP_PROXY: withCredentials(proxy) });
    try {
      const players = await http(`${c.url}/api/players`);
      assert.equal(players.status, 200, players.text);
      const counts = proxy.counts();
      const frontHost = new URL(front.url).host;
      const emuHost = new URL(emu.url).host;
      assert.ok(counts.connect > 0, `values calls tunnelled through CONNECT (${JSON.stringify(counts)})`);
      assert.ok(counts.targets.includes(frontHost), `to the https:// SHEETS_API_URL ${frontHost}: ${counts.targets.join(' ')}`);
      assert.ok(counts.forwarded > 0 && counts.targets.includes(emuHost), `the token request relayed to token_uri ${emuHost} (${JSON.stringify(counts)})`);
      assert.equal(counts.refused, 0, 'the password in the URL was sent');
      assert.ok(emu.counters().ok.token >= 1, 'the emulator issued the token');
      const line = c.events('sheets.backend')[0];
      const shown = `http://${USER}:***@127.0.0.1:${proxy.port}`;
      assert.equal(line?.proxy, shown, JSON.stringify(line));
      assert.match(String(line?.msg), new RegExp(`through the proxy ${shown.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(HTTPS_PROXY\\)`));
      assert.equal(readFileSync(c.logFile, 'utf8').includes(PASSWORD), false, 'the proxy password is not in the log');
    } finally {
      await c.stop();
    }
    const check = await corralCheck({ HTTPS_PROXY: withCredentials(proxy), HTTP_PROXY: withCredentials(proxy) });
    assert.equal(check.code, 0, check.stdout);
    assert.ok(check.stdout.startsWith('OK: service account '), check.stdout);
    assert.ok(check.stdout.includes(` through the proxy http://${USER}:***@127.0.0.1:${proxy.port} (HTTPS_PROXY) (token requests: http://${USER}:***@127.0.0.1:${proxy.port} (HTTP_PROXY))`), check.stdout);
    assert.equal(check.stdout.includes(PASSWORD), false);
  });

  it('set in the settings file (CORRAL_ENV_FILE) as lower-case https_proxy and http_proxy: the same, and corral config shows them redacted', async () => {
    const proxy = await proxyOf({ requireAuth: { user: USER, password: PASSWORD } });
    const envFile = join(dir, 'proxy.env');
    writeFileSync(envFile, `https_proxy=${withCredentials(proxy)}\nhttp_proxy=${withCredentials(proxy)}\n`);
    const c = await start({ CORRAL_ENV_FILE: envFile });
    try {
      const players = await http(`${c.url}/api/players`);
      assert.equal(players.status, 200, players.text);
      assert.ok(proxy.counts().connect > 0 && proxy.counts().forwarded > 0, JSON.stringify(proxy.counts()));
      assert.equal(c.events('sheets.backend')[0]?.proxySetting, 'HTTPS_PROXY');
    } finally {
      await c.stop();
    }
    const shown = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [CORRAL_BIN, 'config', '--json'], { env: { PATH: process.env.PATH ?? '', CORRAL_ENV_FILE: envFile, CORRAL_DATA_DIR: join(dir, 'config-data') } }, (err, stdout) => (err ? reject(err) : resolve(stdout))),
    );
    assert.equal(shown.includes(PASSWORD), false);
    const rows = (JSON.parse(shown) as { settings: { name: string; value: string | null; source: string }[] }).settings.filter((r) => r.name.endsWith('_PROXY'));
    assert.deepEqual(rows.map((r) => [r.name, r.value, r.source]), [
      ['HTTPS_PROXY', `http://${USER}:***@127.0.0.1:${proxy.port}`, 'alias https_proxy'],
      ['HTTP_PROXY', `http://${USER}:***@127.0.0.1:${proxy.port}`, 'alias http_proxy'],
      // Unset: null, not the table's "(unset)".
      ['NO_PROXY', null, 'default'],
    ]);
  });

  it('NO_PROXY naming the emulator\'s address: every call goes direct, the proxy relays nothing', async () => {
    const proxy = await proxyOf();
    const c = await start({ HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url, NO_PROXY: 'localhost,127.0.0.1' });
    try {
      const players = await http(`${c.url}/api/players`);
      assert.equal(players.status, 200, players.text);
      assert.deepEqual(proxy.counts(), { connect: 0, forwarded: 0, refused: 0, targets: [] });
      assert.equal(c.events('sheets.backend')[0]?.proxy, undefined);
    } finally {
      await c.stop();
    }
  });

  it('a proxy answering 407: the keeper logs CORRAL_ERR_SHEETS_PROXY, and corral check says it is the proxy', async () => {
    const proxy = await proxyOf({ requireAuth: { user: USER, password: PASSWORD } });
    const env = { HTTPS_PROXY: proxy.url, HTTP_PROXY: proxy.url };
    const c = await start(env);
    try {
      // The first read asks for a token: refused by the proxy, the app answers 503.
      const players = await http(`${c.url}/api/players`, { timeoutMs: 60_000 });
      assert.equal(players.status, 503, players.text);
      const line = await c.waitForLog((l) => l.role === 'keeper' && JSON.stringify(l).includes('CORRAL_ERR_SHEETS_PROXY'), 60_000, 'the keeper\'s proxy error');
      assert.match(JSON.stringify(line), /407 Proxy Authentication Required/);
      await waitFor(() => proxy.counts().refused > 0, 5000, 'the proxy refused');
      assert.equal(proxy.counts().forwarded + proxy.counts().connect, 0);
    } finally {
      await c.stop();
    }
    const check = await corralCheck(env);
    assert.equal(check.code, 1, check.stdout);
    assert.match(
      check.stdout,
      new RegExp(`^FAIL \\(credentials\\): the proxy http://127\\.0\\.0\\.1:${proxy.port} \\(HTTP_PROXY\\) answered 407 Proxy Authentication Required to the token endpoint .*: it wants a user and password: write them in HTTP_PROXY=http://user:password@host:port \\[CORRAL_ERR_SHEETS_PROXY\\]`),
    );
  });
});
