// CORRAL_APP names a file only when it begins with ./, ../ or / (or file:); anything else is a
// package name, as `import` reads it (worker/app-loader.ts). CORRAL_APP=app.mjs, for the app.mjs
// beside .env, passed `corral config` and every worker then failed "Cannot find package
// 'app.mjs'" until the master gave up (exit 3). A bare name that is a script file in the working
// directory is refused, with the path to write.

import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';

const SCRIPT = /\.(?:m|c)?js$/;

/** Why `app` would not load the file the operator meant, or undefined. */
export function appModuleProblem(app: string, cwd: string): string | undefined {
  if (app.startsWith('.') || isAbsolute(app) || app.startsWith('file:') || app.startsWith('node:') || !SCRIPT.test(app)) return undefined;
  try {
    if (!statSync(resolve(cwd, app)).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return `a path beginning with ./ or / for a file: ${app} is read as the name of a package, not as the file ${app} in the working directory; write CORRAL_APP=./${app}`;
}
