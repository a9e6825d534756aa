// CORRAL_APP names a file only when it begins with ./, ../ or / (or file:); anything else is a
// package name, as `import` reads it (worker/app-loader.ts). CORRAL_APP=app.mjs, for the app.mjs
// beside .env, passed `corral config` and every worker then failed "Cannot find package
// 'app.mjs'" until the master gave up (exit 3). A bare name that is a script file in the working
// directory is refused, with the path to write. So is a path to a file that is not there (a typo,
// a deploy not yet unpacked), or to a directory (ESM imports no directory): each worker failed to
// import it, CORRAL_BOOT_ATTEMPTS times, before the master exited 3. And so is a package name
// that does not resolve.

import { existsSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = /\.(?:m|c)?js$/;
const TYPESCRIPT = /\.(?:m|c)?tsx?$/;
/** Node options that give the workers' import a loader of TypeScript (tsx, ts-node) or node's own. */
const LOADER = /(?:^|\s)(?:--import|--loader|--experimental-loader|--require|-r|--experimental-strip-types|--experimental-transform-types)(?:[=\s]|$)/;

/** Turns node's own type stripping off where it is on by default. */
const NO_STRIPPING = /(?:^|\s)--no-experimental-strip-types(?:\s|$)/;

/**
 * Whether node `version` imports .ts, .mts and .cts by itself (type stripping, on by default from
 * 22.18 and 23.6; never .tsx). The workers run the master's node with NODE_OPTIONS alone.
 */
export function nodeStripsTypes(version: string, nodeOptions: string | undefined): boolean {
  if (NO_STRIPPING.test(nodeOptions ?? '')) return false;
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);
}

/**
 * Why a TypeScript file named by CORRAL_APP would not load, or undefined: node 20 imports no .ts
 * (ERR_UNKNOWN_FILE_EXTENSION) unless a loader is given. It passed `corral config`, and every
 * worker's boot failed the same way until the master exited 78. A node that strips types itself
 * (22.18 and 23.6 on) imports .ts, .mts and .cts: there such an app, which runs, is not refused.
 */
function typescriptProblem(file: string, named: string, nodeOptions: string | undefined, version: string): string | undefined {
  if (LOADER.test(nodeOptions ?? '')) return undefined;
  if (!file.endsWith('x') && nodeStripsTypes(version, nodeOptions)) return undefined;
  return `a JavaScript module (.mjs, .js or .cjs): ${named} is TypeScript, which node ${version} does not import without a loader; compile it (tsc) and point CORRAL_APP at the .js it writes, or give the workers a loader (NODE_OPTIONS="--import tsx" in the environment or the settings file)`;
}

/** The file CORRAL_APP names (relative paths from the working directory), or undefined for a package. */
function appFile(app: string, cwd: string): string | undefined {
  if (app.startsWith('file:')) {
    try {
      return fileURLToPath(app);
    } catch {
      return undefined;
    }
  }
  return app.startsWith('.') || isAbsolute(app) ? resolve(cwd, app) : undefined;
}

function fileProblem(app: string, file: string, cwd: string, nodeOptions: string | undefined, version: string): string | undefined {
  const named = file === app ? file : app.startsWith('file:') ? `${file} (${app})` : `${file} (${app} from the working directory ${cwd})`;
  try {
    const stat = statSync(file);
    if (stat.isFile() && TYPESCRIPT.test(file)) return typescriptProblem(file, named, nodeOptions, version);
    if (stat.isDirectory()) {
      const index = ['index.mjs', 'index.js', 'index.cjs'].find((n) => existsSync(resolve(file, n)));
      return `the path of the app's module file: ${named} is a directory, which import does not load${index ? `; write CORRAL_APP=${app.replace(/\/$/, '')}/${index}` : ''}`;
    }
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return undefined; // unreadable: the worker's import says why
    // import adds no extension: ./app for ./app.mjs.
    const withExt = SCRIPT.test(file) ? undefined : ['.mjs', '.js', '.cjs'].find((ext) => existsSync(file + ext));
    return `the path of an existing module file: there is no file ${named}${withExt ? `; write CORRAL_APP=${app}${withExt} (import adds no extension)` : ''}`;
  }
}

/**
 * Why the package `app` cannot be imported by the workers, or undefined. A package name misspelt,
 * or not installed, passed `corral config`, and start ran the master and the keeper, and each
 * worker failed "Cannot find package", CORRAL_BOOT_ATTEMPTS times, before the master exited 3.
 * Resolved (not imported: nothing of it runs here) as the workers' import resolves it: from
 * corral's own modules (worker/app-loader.ts), which this file's node_modules lookup is.
 */
function packageProblem(app: string): string | undefined {
  try {
    import.meta.resolve(app);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED') return undefined; // the worker's import says why
    const why = ((err as Error).message.split('\n')[0] ?? '').replace(/ imported from .*$/, '');
    return `a package the workers can import, or a path beginning with ./ or / for a file: ${app} cannot be resolved (${why}); install it where corral is installed (npm install in corral's directory), or correct its name`;
  }
}

/**
 * Why `app` would not load the file the operator meant, or undefined. `nodeOptions`: the
 * workers' NODE_OPTIONS, their only node options (they are forked without the master's execArgv);
 * `version`: their node's (this one's unless a test says).
 */
export function appModuleProblem(app: string, cwd: string, nodeOptions?: string, version: string = process.versions.node): string | undefined {
  if (app.startsWith('node:')) return undefined;
  const file = appFile(app, cwd);
  if (file !== undefined) return fileProblem(app, file, cwd, nodeOptions, version);
  if (app.startsWith('file:')) return undefined;
  let isFile = false;
  try {
    isFile = SCRIPT.test(app) && statSync(resolve(cwd, app)).isFile();
  } catch {
    // Not a file in the working directory: a package name, judged below.
  }
  if (isFile) return `a path beginning with ./ or / for a file: ${app} is read as the name of a package, not as the file ${app} in the working directory; write CORRAL_APP=./${app}`;
  return packageProblem(app);
}
