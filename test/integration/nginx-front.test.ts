// The shipped config/nginx/corral.conf in front of the real master, changed only where an operator
// changes it (ports, certificate paths, the upstream's address): the forwarded client, nginx's
// request id and corral's own 413 reach corral's access lines and clients; the admin API stays
// hidden but for the workers' health check; plain HTTP is sent to HTTPS.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent } from 'undici';
import { prepareWorkDir } from '../fixtures/offline-sheet.js';
import { startCorral, waitFor, type CorralProcess } from '../helpers/corral.js';
import { http } from '../helpers/http.js';
import { freePort } from '../helpers/ports.js';
import { makeCertificates, opensslMissing } from '../helpers/test-certs.js';

const nginxMissing = spawnSync('nginx', ['-v']).status === 0 ? undefined : 'nginx is not installed (apt-get install nginx; .ci/run does)';
const skip = nginxMissing ?? opensslMissing ?? false;
const shipped = readFileSync(fileURLToPath(new URL('../../../config/nginx/corral.conf', import.meta.url)), 'utf8');

describe('config/nginx/corral.conf in front of the real master', { skip }, () => {
  let c: CorralProcess;
  let nginx: ChildProcess | undefined;
  let dir: string;
  let work: string;
  let https: string;
  let plain: string;
  let tls: Agent;
  let caFile: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'corral-nginx-front-'));
    work = prepareWorkDir();
    c = await startCorral({ cwd: work, workers: 2, env: { CORRAL_TRUSTED_PROXIES: '127.0.0.1' } });
    const certs = makeCertificates(dir);
    caFile = certs.caFile;
    const { certFile, keyFile } = certs;
    const [httpsPort, plainPort] = [await freePort(), await freePort()];
    const site = shipped
      .replace('server 127.0.0.1:8080', `server 127.0.0.1:${new URL(c.url).port}`)
      .replace('/etc/ssl/certs/api.example.org.pem', certFile)
      .replace('/etc/ssl/private/api.example.org.key', keyFile)
      .replace(/listen 80;/g, `listen 127.0.0.1:${plainPort};`)
      .replace(/listen 443 ssl http2;/g, `listen 127.0.0.1:${httpsPort} ssl http2;`)
      .replace(/^\s*listen \[::\]:\d+.*$/gm, '');
    writeFileSync(join(dir, 'site.conf'), site);
    // As root, nginx's workers would run as nobody, who cannot enter this private directory to
    // buffer a large body in its temp files.
    const user = process.getuid?.() === 0 ? 'user root;\n' : '';
    writeFileSync(join(dir, 'nginx.conf'), `${user}daemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site.conf;\n}\n`);
    nginx = spawn('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let nginxSaid = '';
    nginx.stderr?.on('data', (d: Buffer) => (nginxSaid += d.toString()));
    https = `https://127.0.0.1:${httpsPort}`;
    plain = `http://127.0.0.1:${plainPort}`;
    tls = new Agent({ connect: { ca: readFileSync(caFile) } });
    await waitFor(async () => {
      if (nginx?.exitCode !== null) throw new Error(`nginx exited ${nginx?.exitCode}: ${nginxSaid}`);
      return (await http(`${https}/api/admin/health`, { dispatcher: tls }).catch(() => undefined))?.status === 200 || undefined;
    }, 20_000, 'nginx answering');
  });
  after(async () => {
    nginx?.kill('SIGQUIT');
    await tls?.close();
    await c?.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  it('the access line names the client nginx forwarded for and carries its request id; remote is nginx', async () => {
    // The client from 127.0.0.2, an address corral does not trust (nginx, its peer, is 127.0.0.1),
    // with an X-Forwarded-For of its own making: nginx appends the client's real address, and
    // corral, reading from the right, stops there. From 127.0.0.1 the forged entry was believed.
    const outside = new Agent({ localAddress: '127.0.0.2', connect: { ca: readFileSync(caFile) } });
    try {
      for (const path of ['/api/players?via=nginx', '/api/admin/health?via=nginx']) {
        const r = await http(`${https}${path}`, { dispatcher: outside, headers: { 'x-forwarded-for': '198.51.100.9' } });
        assert.equal(r.status, 200, r.text);
        const line = () => c.events('access').find((l) => l.path === path);
        await waitFor(() => line(), 10_000, `the access line of ${path}`);
        assert.deepEqual([line()?.remote, line()?.client], ['127.0.0.1', '127.0.0.2'], path);
        assert.match(String(line()?.request_id), /^[0-9a-f]{32}$/, `${path}: nginx's $request_id`);
      }
    } finally {
      await outside.close();
    }
  });

  it('a body over corral\'s 1 MiB gets corral\'s JSON 413, not nginx\'s page', async () => {
    const r = await http(`${https}/api/events`, { dispatcher: tls, method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"kind":"${'x'.repeat(1024 * 1024 + 512)}"}` });
    assert.equal(r.status, 413, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.json<{ error: string }>().error, 'body_too_large');
  });

  it('the admin API and dashboard are hidden, the workers\' health check is not', async () => {
    const health = await http(`${https}/api/admin/health`, { dispatcher: tls });
    assert.equal(health.status, 200);
    assert.equal(health.json<{ status: string }>().status, 'ok');
    for (const path of ['/api/admin/stats', '/api/admin/reload', '/admin']) {
      const r = await http(`${https}${path}`, { dispatcher: tls });
      assert.equal(r.status, 404, path);
      assert.doesNotMatch(r.text, /^\{/, `${path}: nginx's own 404, corral never asked`);
    }
  });

  it('plain HTTP is redirected to HTTPS', async () => {
    const r = await http(`${plain}/api/players?x=1`, { headers: { host: 'api.example.org' } });
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'https://api.example.org/api/players?x=1');
  });
});
