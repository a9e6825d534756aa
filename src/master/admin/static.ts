// The dashboard's files: our static/ folder (read from the source tree, which the package ships,
// or from a copy next to the compiled file) and uPlot from node_modules. No CDN, no build step.
// Files are read once at startup and served from memory with an ETag.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

export function staticDir(): string {
  const candidates = [
    new URL('./static/', import.meta.url), // a copy beside the compiled module
    new URL('../../../../src/master/admin/static/', import.meta.url), // dist/src/master/admin → src/master/admin/static
  ].map((u) => fileURLToPath(u));
  const found = candidates.find((d) => existsSync(join(d, 'index.html')));
  if (!found) throw new Error(`dashboard files not found in ${candidates.join(' or ')}`);
  return found;
}

function uplotDir(): string {
  return dirname(createRequire(import.meta.url).resolve('uplot'));
}

/** URL path under /admin → file on disk. */
export function dashboardFiles(): Record<string, string> {
  const dir = staticDir();
  const vendor = uplotDir();
  return {
    '/admin': join(dir, 'index.html'),
    '/admin/charts.js': join(dir, 'charts.js'),
    '/admin/token.js': join(dir, 'token.js'),
    '/admin/actions.js': join(dir, 'actions.js'),
    '/admin/capacity.js': join(dir, 'capacity.js'),
    '/admin/dashboard.js': join(dir, 'dashboard.js'),
    '/admin/dashboard.css': join(dir, 'dashboard.css'),
    '/admin/vendor/uPlot.iife.min.js': join(vendor, 'uPlot.iife.min.js'),
    '/admin/vendor/uPlot.min.css': join(vendor, 'uPlot.min.css'),
  };
}

export async function loadDashboard(): Promise<Map<string, StaticFile>> {
  const out = new Map<string, StaticFile>();
  for (const [path, file] of Object.entries(dashboardFiles())) {
    const body = await readFile(file);
    const ext = file.slice(file.lastIndexOf('.'));
    out.set(path, { body, type: TYPES[ext] ?? 'application/octet-stream', etag: `"${createHash('sha1').update(body).digest('base64url')}"` });
  }
  return out;
}
