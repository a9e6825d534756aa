// config/nginx/corral.conf: the upstream keep-alive settings are all there (each one alone does
// nothing), and nginx itself accepts the file when nginx is installed.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const file = fileURLToPath(new URL('../../../config/nginx/corral.conf', import.meta.url));
const text = readFileSync(file, 'utf8');
/** Directives only: comments stripped. */
const conf = text.replace(/#.*$/gm, '');
const dir = mkdtempSync(join(tmpdir(), 'corral-nginx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function block(name: RegExp): string {
  const start = conf.search(name);
  assert.ok(start >= 0, `no ${name} block`);
  let depth = 0;
  for (let i = conf.indexOf('{', start); i < conf.length; i++) {
    if (conf[i] === '{') depth++;
    else if (conf[i] === '}' && --depth === 0) return conf.slice(start, i + 1);
  }
  throw new Error(`unbalanced ${name} block`);
}

test('the upstream keeps connections alive, for several corral hosts', () => {
  const upstream = block(/upstream\s+corral\s*\{/);
  assert.match(upstream, /^\s*keepalive\s+\d+;/m);
  assert.match(upstream, /^\s*server\s+\S+:\d+/m);
  assert.match(text, /#\s*server\s+\S+:\d+/, 'commented examples of more hosts');
  const timeout = /keepalive_timeout\s+(\d+)s;/.exec(upstream);
  assert.ok(timeout && Number(timeout[1]) < 5, 'below CORRAL_KEEPALIVE (default 5 s), so nginx closes idle connections first');
});

test('the proxied location speaks HTTP/1.1 upstream with an empty Connection header', () => {
  const location = block(/location\s+\/\s*\{/);
  assert.match(location, /proxy_pass\s+http:\/\/corral;/);
  assert.match(location, /proxy_http_version\s+1\.1;/);
  assert.match(location, /proxy_set_header\s+Connection\s+"";/);
});

test('the file explains why keep-alive matters', () => {
  // What a new connection costs, under either accept mode, and that the pool pays it once.
  assert.match(text, /every NEW\s+#\s*connection costs/);
  assert.match(text, /CORRAL_ACCEPT=shared/);
  assert.match(text, /CORRAL_ACCEPT=round-robin/);
});

test('nginx lets through the bodies corral refuses itself, so clients get corral\'s JSON 413', () => {
  // At an equal limit (1m, corral's default CORRAL_LIMIT_REQUEST_BODY_BYTES of 1 MiB) nginx
  // answered every body over it with its own HTML 413 before corral saw it.
  const size = /^\s*client_max_body_size\s+(\d+)([kmg]?);/im.exec(conf);
  assert.ok(size, 'client_max_body_size is set');
  const bytes = Number(size[1]) * ({ '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as Record<string, number>)[(size[2] ?? '').toLowerCase()]!;
  assert.ok(bytes > 1024 * 1024, `client_max_body_size ${size[1]}${size[2]} is above corral's 1 MiB`);
});

const nginx = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
const skip = nginx.status !== 0 ? 'nginx is not installed' : openssl.status !== 0 ? 'openssl is not installed' : false;

test('nginx -t accepts the file (certificate paths swapped for a throwaway certificate)', { skip }, () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=api.example.org'], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const site = text
    .replace('/etc/ssl/certs/api.example.org.pem', cert)
    .replace('/etc/ssl/private/api.example.org.key', key)
    // Unprivileged, unused ports: nginx -t binds nothing, but keep the test harmless anyway.
    .replace(/listen 80;/g, 'listen 127.0.0.1:18081;')
    .replace(/listen 443 ssl http2;/g, 'listen 127.0.0.1:18443 ssl http2;')
    .replace(/^\s*listen \[::\]:\d+.*$/gm, '');
  writeFileSync(join(dir, 'site.conf'), site);
  writeFileSync(join(dir, 'nginx.conf'), `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents {}\nhttp {\n  access_log off;\n  include ${dir}/site.conf;\n}\n`);
  const r = spawnSync('nginx', ['-t', '-p', dir, '-c', join(dir, 'nginx.conf')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /syntax is ok/);
});

test('what its comments point an operator to exists: files of the repo and README sections', () => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const comments = text.split('\n').filter((line) => line.trimStart().startsWith('#')).join('\n');
  const files = [...comments.matchAll(/(?<![\w/.-])((?:[\w-]+\/)*[\w-]+\.(?:md|conf|service|ts))\b/g)].map((m) => m[1]!);
  assert.ok(files.length > 0, 'the comments name files');
  for (const f of files) assert.ok(existsSync(join(root, f)), `${f}, named in a comment, is not in the repo`);
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const headings = new Set(readme.split('\n').filter((l) => /^#{1,6} /.test(l)).map((l) => l.replace(/^#+ /, '').trim()));
  const sections = [...comments.replace(/\n#\s*/g, ' ').matchAll(/README(?:\.md)?, "([^"]+)"/g)].map((m) => m[1]!);
  assert.ok(sections.length > 0, 'the comments name README sections');
  for (const s of sections) assert.ok(headings.has(s), `README section "${s}", named in a comment, does not exist`);
});
