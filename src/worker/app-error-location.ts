// Where in the app's own files an error at its import or in its createApp() comes from, for the
// boot error an operator reads: "cannot import app module ./app.mjs: Unexpected token ';'" named
// neither the file (often a module the app imports) nor the line.
//
// - A runtime error (a ReferenceError while a module is evaluated, a throw in createApp) has the
//   place in its stack: the first frame outside Node's internals and corral's own code.
// - A syntax error in an ES module has none: Node 20 keeps the file and line in a private property
//   it prints only when the error ends the process ("file:///srv/app/lib.mjs:2", the line, a
//   caret). So the same import is run once more in a child process, left uncaught, and that first
//   line read from its stderr. Nothing of the app runs there: a module graph with a syntax error
//   is refused before any of its modules is evaluated. A CommonJS syntax error carries that line
//   at the head of its stack already.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** corral's own directory (dist/src), whose frames are the loader's, not the app's. */
const OWN_CODE = fileURLToPath(new URL('..', import.meta.url));

/** How long the child that re-imports a module with a syntax error may take. */
const REIMPORT_TIMEOUT_MS = 10_000;

/** "file:///srv/app/lib.mjs:2:7" (or a plain path) as a path with its line and column. */
function asPath(location: string): string {
  return location.startsWith('file://') ? location.replace(/^(file:\/\/[^:]*)/, (url) => fileURLToPath(url)) : location;
}

/** The first stack frame in the app's own files: `/srv/app/lib.mjs:2:1`. */
export function appFrame(stack: string | undefined): string | undefined {
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /^\s+at (?:.*? \()?((?:file:\/\/)?\/[^()]*?:\d+:\d+)\)?$/.exec(line);
    const location = m?.[1];
    if (location === undefined) continue;
    const path = asPath(location);
    if (path.startsWith(OWN_CODE)) continue;
    return path;
  }
  return undefined;
}

/** The `file:line` and source line heading an uncaught syntax error's report ("/srv/app/lib.mjs:2: const x = ;"). */
export function syntaxErrorHead(report: string): string | undefined {
  const [first, source] = report.split('\n');
  const m = /^((?:file:\/\/)?\/\S*?:\d+)$/.exec(first ?? '');
  if (!m?.[1]) return undefined;
  const code = (source ?? '').trim();
  return code === '' ? asPath(m[1]) : `${asPath(m[1])}: ${code.length > 120 ? `${code.slice(0, 119)}…` : code}`;
}

/**
 * Where `err`, thrown by `import(specifier)` or by the app's createApp(), comes from in the app's
 * files, or undefined when that cannot be told.
 */
export function appErrorLocation(err: unknown, specifier: string): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const frame = appFrame(err.stack);
  if (frame !== undefined) return frame;
  if (!(err instanceof SyntaxError)) return undefined;
  const head = syntaxErrorHead(err.stack ?? '');
  if (head !== undefined) return head;
  const child = spawnSync(process.execPath, ['--input-type=module', '--eval', `await import(${JSON.stringify(specifier)});`], {
    encoding: 'utf8',
    timeout: REIMPORT_TIMEOUT_MS,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return typeof child.stderr === 'string' ? syntaxErrorHead(child.stderr) : undefined;
}
