// Where in the app's own files an error at its import or in its createApp() comes from, for the
// boot error an operator reads: "cannot import app module ./app.mjs: Unexpected token ';'" named
// neither the file (often a module the app imports) nor the line.
//
// - A CommonJS syntax error carries "file:line" at the head of its stack.
// - A runtime error (a ReferenceError while a module is evaluated, a throw in createApp) has the
//   place in its stack: the first frame in the app's files (outside node_modules, else in them),
//   not in Node's internals nor corral's own code.
// - A syntax error in an ES module has neither: Node 20 keeps the file and line in a private
//   property it prints only when the error ends the process. The modules the app imports are
//   then checked with `node --check`, which parses a file and runs nothing: the app's file first,
//   then the files it imports by relative paths, as written in their import statements, until one
//   fails. Asynchronously, so that the worker beats meanwhile, and bounded in files and time.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** corral's own directory (dist/src), whose frames are the loader's, not the app's. */
const OWN_CODE = fileURLToPath(new URL('..', import.meta.url));

/** The files `node --check` parses as JavaScript: a JSON module (`with { type: 'json' }`) would fail as one. */
const SCRIPT_FILE = /\.(?:m|c)?js$/;

/** At most this many of the app's files are checked, and for at most this long in all. */
const CHECK_MAX_FILES = 100;
const CHECK_MAX_MS = 10_000;

/** "file:///srv/app/lib.mjs:2:7" (or a plain path) as a path with its line and column. */
function asPath(location: string): string {
  const m = /^(file:\/\/.*?)((?::\d+)+)$/.exec(location);
  return m?.[1] && m[2] ? `${fileURLToPath(m[1])}${m[2]}` : location;
}

/** The first stack frame in the app's files (`/srv/app/lib.mjs:2:1`), one outside node_modules first. */
export function appFrame(stack: string | undefined): string | undefined {
  const frames: string[] = [];
  for (const line of (stack ?? '').split('\n').slice(1)) {
    const m = /^\s+at (?:.*? \()?((?:file:\/\/)?\/.*:\d+:\d+)\)?$/.exec(line);
    const location = m?.[1];
    if (location === undefined) continue;
    const path = asPath(location);
    if (!path.startsWith(OWN_CODE)) frames.push(path);
  }
  return frames.find((f) => !f.includes('/node_modules/')) ?? frames[0];
}

/** The `file:line` and source line heading a syntax error's report ("/srv/app/lib.mjs:2: const x = ;"). */
export function syntaxErrorHead(report: string): string | undefined {
  const [first, source] = report.split('\n');
  const m = /^((?:file:\/\/)?\/.*:\d+)$/.exec(first ?? '');
  if (!m?.[1]) return undefined;
  const code = (source ?? '').trim();
  return code === '' ? asPath(m[1]) : `${asPath(m[1])}: ${code.length > 120 ? `${code.slice(0, 119)}…` : code}`;
}

/** The relative specifiers a module's source imports (static, re-exported, or import('...') of a literal). */
export function relativeImports(source: string): string[] {
  const found = new Set<string>();
  const patterns = [/\b(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])(\.{1,2}\/[^'"]+)\1/g, /\bimport\s*(['"])(\.{1,2}\/[^'"]+)\1/g, /\bimport\s*\(\s*(['"])(\.{1,2}\/[^'"]+)\1\s*\)/g];
  for (const pattern of patterns) for (const m of source.matchAll(pattern)) if (m[2]) found.add(m[2]);
  return [...found];
}

/** `node --check file`: the syntax error's head, or undefined when the file parses (or cannot be checked). */
function checkSyntax(file: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((done) => {
    execFile(process.execPath, ['--check', file], { timeout: Math.max(1, timeoutMs), killSignal: 'SIGKILL', env: { ...process.env, NODE_OPTIONS: '' } }, (err, _stdout, stderr) => {
      done(err ? syntaxErrorHead(String(stderr)) : undefined);
    });
  });
}

/** The first of the app's files, from `entry` along its relative imports, that does not parse. */
async function firstUnparsable(entry: string): Promise<string | undefined> {
  const deadline = Date.now() + CHECK_MAX_MS;
  const queue = [entry];
  const seen = new Set(queue);
  let checked = 0;
  for (let file = queue.shift(); file !== undefined && checked < CHECK_MAX_FILES && Date.now() < deadline; file = queue.shift()) {
    checked++;
    const head = await checkSyntax(file, deadline - Date.now());
    if (head !== undefined) return head;
    let source: string;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const specifier of relativeImports(source)) {
      const next = resolve(dirname(file), specifier.split(/[?#]/)[0] ?? specifier);
      if (seen.has(next) || !SCRIPT_FILE.test(next) || !existsSync(next) || !statSync(next).isFile()) continue;
      seen.add(next);
      queue.push(next);
    }
  }
  return undefined;
}

/**
 * Where `err`, thrown by `import(specifier)` or by the app's createApp() (a module it imports
 * lazily), comes from in the app's files, or undefined when that cannot be told.
 */
export async function appErrorLocation(err: unknown, specifier: string): Promise<string | undefined> {
  if (!(err instanceof Error)) return undefined;
  if (err instanceof SyntaxError) {
    const head = syntaxErrorHead(err.stack ?? '');
    if (head !== undefined) return head;
  }
  const frame = appFrame(err.stack);
  if (frame !== undefined || !(err instanceof SyntaxError) || !specifier.startsWith('file:')) return frame;
  return firstUnparsable(fileURLToPath(specifier));
}
