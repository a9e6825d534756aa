// The seeds' original setup as a process: bench/fixtures/flask/app.py under
// `gunicorn -k gevent -w N --worker-connections 1000`, with Debian's gunicorn, python3-gevent and
// python3-flask. When they are missing the comparison says so and goes on without it.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { REPO_ROOT, waitFor } from '../../test/helpers/corral.js';
import { killOnExit } from './orphan-guard.js';
import type { Running } from './servers.js';

export const GUNICORN_SKIP = 'skipped: install gunicorn python3-gevent python3-flask (apt-get install -y gunicorn python3-gevent python3-flask)';

const FLASK_DIR = join(REPO_ROOT, 'bench', 'fixtures', 'flask');

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * The gunicorn to run: BENCH_GUNICORN (a path, or a name looked up on PATH, e.g. the one in a
 * virtualenv) or `gunicorn` on PATH. Undefined when there is none.
 */
function gunicornBin(): string | undefined {
  const wanted = process.env.BENCH_GUNICORN || 'gunicorn';
  if (!wanted.includes('/')) return onPath(wanted);
  try {
    accessSync(wanted, constants.X_OK);
    return wanted;
  } catch {
    return undefined;
  }
}

/** Why the gunicorn setup cannot run here, or undefined when it can. */
export function gunicornMissing(): string | undefined {
  const bin = gunicornBin();
  if (!bin) return process.env.BENCH_GUNICORN ? `BENCH_GUNICORN=${process.env.BENCH_GUNICORN} is not an executable` : 'gunicorn is not on PATH';
  // The Python that runs gunicorn (its shebang) must have Flask and gevent.
  const shebang = /^#!\s*(\S+)/.exec(readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '')?.[1];
  const python = shebang && !shebang.endsWith('/env') ? shebang : 'python3';
  const probe = spawnSync(python, ['-c', 'import flask, gevent'], { encoding: 'utf8' });
  // A Python that cannot be started (a moved virtualenv's shebang): no output at all, and reading
  // its stderr threw, so the whole bench died with a TypeError instead of skipping gunicorn.
  if (probe.error) return `${python} (the Python of ${bin}) cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import flask and gevent: ${probe.stderr.trim().split('\n').at(-1) ?? ''}`;
  return undefined;
}

export function gunicornVersion(): string {
  return spawnSync(gunicornBin() ?? 'gunicorn', ['--version'], { encoding: 'utf8' }).stdout.trim();
}

export interface GunicornOptions {
  readonly workers: number;
  /** App settings (SHEET_ID, SHEETS_API_URL, GOOGLE_APPLICATION_CREDENTIALS, SHEET_CACHE_TTL). */
  readonly env: Readonly<Record<string, string>>;
}

export async function startGunicorn(o: GunicornOptions): Promise<Running & { readonly args: readonly string[] }> {
  // The seeds' flags: gevent workers, 1000 connections each, 120 s timeout. No access log (the
  // default), like corral with CORRAL_ACCESS_LOG=false in the same comparison.
  const args = ['-k', 'gevent', '-w', String(o.workers), '--worker-connections', '1000', '--timeout', '120', '--graceful-timeout', '5', '-b', '127.0.0.1:0', '--chdir', FLASK_DIR, '--log-level', 'info', 'app:app'];
  // No __pycache__ written into the source tree.
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', PYTHONDONTWRITEBYTECODE: '1', ...o.env };
  const proc = spawn(gunicornBin() ?? 'gunicorn', args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr?.on('data', (d: Buffer) => {
    // Keep the start-up lines and the last warnings only; a stampede logs one line per failure.
    log = (log + d.toString()).slice(-20_000);
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // SIGTERM at the bench's exit: its workers follow it.
  killOnExit(proc);
  let gone = false;
  void exited.then(() => (gone = true));
  const stop = async () => {
    if (!gone) {
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    }
  };
  try {
    const port = await waitFor(
      () => {
        if (gone) throw new Error(`gunicorn exited during start-up:\n${log}`);
        const m = /Listening at: http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
        const booted = log.match(/Booting worker with pid/g)?.length ?? 0;
        return m && booted >= o.workers ? Number(m[1]) : undefined;
      },
      60_000,
      'gunicorn to listen and boot its workers',
    );
    const url = `http://127.0.0.1:${port}`;
    // Workers import Flask after "Booting worker": wait until requests on fresh connections answer.
    let answered = 0;
    await waitFor(
      async () => {
        if (gone) throw new Error(`gunicorn exited during start-up:\n${log}`);
        const res = await fetch(`${url}/__ready`, { headers: { connection: 'close' } }).catch(() => undefined);
        await res?.body?.cancel();
        answered = res?.status === 404 ? answered + 1 : 0;
        return answered >= o.workers * 2;
      },
      60_000,
      'gunicorn workers to answer',
    );
    return { url, pid: proc.pid ?? -1, args, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
