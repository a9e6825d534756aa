// The seeds' original setup as a process: bench/fixtures/flask/app.py under
// `gunicorn -k gevent -w N --worker-connections 1000`, with Debian's gunicorn, python3-gevent and
// python3-flask. When they are missing the comparison says so and goes on without it.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { REPO_ROOT, waitFor } from '../../test/helpers/corral.js';
import { killOnExit } from './orphan-guard.js';
import type { Running } from './servers.js';

export const GUNICORN_SKIP = 'skipped: install gunicorn python3-gevent python3-flask (apt-get install -y gunicorn python3-gevent python3-flask)';

const FLASK_DIR = join(REPO_ROOT, 'bench', 'fixtures', 'flask');

/**
 * Why `file` cannot be run as a program, or undefined when it can: it must be a regular file
 * with the execute bit. access(X_OK) alone says yes to a directory (searchable), and the shebang
 * read below then threw EISDIR out of the whole bench.
 */
function notExecutable(file: string): string | undefined {
  try {
    const st = statSync(file);
    if (st.isDirectory()) return 'a directory';
    if (!st.isFile()) return 'not a regular file';
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'no execute permission' : (err as Error).message;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const file = join(dir, name);
    if (notExecutable(file) === undefined) return file;
  }
  return undefined;
}

/**
 * The gunicorn to run: BENCH_GUNICORN (a path, or a name looked up on PATH, e.g. the one in a
 * virtualenv) or `gunicorn` on PATH; else why there is none.
 */
function gunicornBin(): { bin: string } | { why: string } {
  const named = process.env.BENCH_GUNICORN;
  const wanted = named || 'gunicorn';
  const hint = 'it should name the gunicorn program: a path such as /path/to/venv/bin/gunicorn, or a name on PATH';
  if (!wanted.includes('/')) {
    const bin = onPath(wanted);
    if (bin) return { bin };
    return { why: named ? `BENCH_GUNICORN=${named} is not an executable (not found on PATH): ${hint}` : 'gunicorn is not on PATH' };
  }
  const why = notExecutable(wanted);
  return why === undefined ? { bin: wanted } : { why: `BENCH_GUNICORN=${wanted} is not an executable (${why}): ${hint}` };
}

/** Why the gunicorn setup cannot run here, or undefined when it can. */
export function gunicornMissing(): string | undefined {
  const found = gunicornBin();
  if ('why' in found) return found.why;
  const { bin } = found;
  // The Python that runs gunicorn (its shebang) must have Flask and gevent.
  let firstLine: string;
  try {
    firstLine = readFileSync(bin, 'utf8').split('\n', 1)[0] ?? '';
  } catch (err) {
    // Executable but not readable (mode 0111 for a user other than root): its shebang is unknown.
    return `${bin} cannot be read to find its Python: ${(err as Error).message}`;
  }
  const shebang = /^#!\s*(\S+)/.exec(firstLine)?.[1];
  const python = shebang && !shebang.endsWith('/env') ? shebang : 'python3';
  const probe = spawnSync(python, ['-c', 'import flask, gevent'], { encoding: 'utf8' });
  // A Python that cannot be started (a moved virtualenv's shebang): no output at all, and reading
  // its stderr threw, so the whole bench died with a TypeError instead of skipping gunicorn.
  if (probe.error) return `${python} (the Python of ${bin}) cannot be run: ${probe.error.message}`;
  if (probe.status !== 0) return `${python} cannot import flask and gevent: ${probe.stderr.trim().split('\n').at(-1) ?? ''}`;
  return undefined;
}

/** The gunicorn program to run, or `gunicorn` (left to PATH) when gunicornMissing said there is none. */
const gunicornProgram = (): string => {
  const found = gunicornBin();
  return 'bin' in found ? found.bin : 'gunicorn';
};

export function gunicornVersion(): string {
  return spawnSync(gunicornProgram(), ['--version'], { encoding: 'utf8' }).stdout.trim();
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
  const proc = spawn(gunicornProgram(), args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
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
