// Loads the app module named by CORRAL_APP: `createApp(ctx)` (sync or async) returning a request
// listener, or a default export that is itself a listener (an Express app runs unchanged).

import type { RequestListener } from 'node:http';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppContext } from '../contract.js';
import { CorralError, type ErrorCode } from '../errors.js';
import { appErrorLocation } from './app-error-location.js';
import { factoryFailureLasts, importFailureLasts } from './boot-lasting.js';

/** The bundled players app, used when CORRAL_APP is unset. */
export const BUNDLED_APP = new URL('../app/index.js', import.meta.url).href;

function specifierOf(app: string | undefined): string {
  if (!app) return BUNDLED_APP;
  if (app.startsWith('file:') || app.startsWith('node:')) return app;
  // Paths (relative to the working directory) become file URLs; bare names are packages.
  if (app.startsWith('.') || isAbsolute(app)) return pathToFileURL(resolve(app)).href;
  return app;
}

/** Failures of the app as written, which every boot meets alike until its files change (boot-lasting.ts). */
const lastingFailures = new WeakSet<Error>();

/** Whether `err`, thrown by loadApp(), fails every boot until the app's files change. */
export function appFailureLasts(err: unknown): boolean {
  return err instanceof Error && lastingFailures.has(err);
}

function lasting(err: CorralError): CorralError {
  lastingFailures.add(err);
  return err;
}

function isListener(v: unknown): v is RequestListener {
  return typeof v === 'function';
}

/**
 * The app's failure as a boot error: its message with where in the app's files it comes from,
 * and its own stack under the loader's (whose frames alone named no file of the app).
 */
async function appFailure(code: ErrorCode, what: string, err: unknown, specifier: string): Promise<CorralError> {
  const location = await appErrorLocation(err, specifier);
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}${location ? ` (at ${location})` : ''}`;
  const failure = new CorralError(code, message, { cause: err });
  if (err instanceof Error && err.stack) failure.stack = `${failure.name}: ${message}\nCaused by: ${err.stack}`;
  return failure;
}

/**
 * The app's createApp and its default export. CommonJS modules arrive as { default: module.exports };
 * one compiled from TypeScript or Babel (`export default app` becomes `exports.default = app`,
 * marked `__esModule`) holds its default export one level further down: an Express app exported
 * so was refused, with exit 78, as exporting no default. A default export that is a function
 * named createApp is the factory (`export default function createApp(ctx)`): served as a
 * listener, it answered no request, each one held until its client gave up.
 */
function exportsOf(mod: Record<string, unknown>): { factory: unknown; defaultExport: unknown } {
  const cjs = (mod.default && typeof mod.default === 'object' ? mod.default : undefined) as Record<string, unknown> | undefined;
  const defaultExport = cjs?.__esModule ? cjs.default : mod.default;
  const inner = (defaultExport && typeof defaultExport === 'object' && defaultExport !== cjs ? defaultExport : undefined) as Record<string, unknown> | undefined;
  const named = typeof defaultExport === 'function' && defaultExport.name === 'createApp' ? defaultExport : undefined;
  return { factory: mod.createApp ?? cjs?.createApp ?? inner?.createApp ?? named, defaultExport };
}

/** What a createApp() returned that is no listener, for the boot error ("an http.Server"). */
function kindOf(v: unknown): string {
  if (v === undefined || v === null) return String(v);
  if (typeof v !== 'object') return `a ${typeof v}`;
  const name = (v as object).constructor?.name;
  if (name === 'Server') return 'a server, not its request listener (return the function passed to http.createServer)';
  return name && name !== 'Object' ? `an instance of ${name}` : 'an object';
}

/** What a module serving nothing exports, for the boot error ("only port", "a default that is an object holding port"). */
function exportNames(mod: Record<string, unknown>, defaultExport: unknown): string {
  // Node 22 on adds a 'module.exports' key to a CommonJS module's namespace: no export of the app's.
  const names = Object.keys(mod).filter((n) => n !== 'default' && n !== '__esModule' && n !== 'module.exports');
  const held = defaultExport && typeof defaultExport === 'object' ? Object.keys(defaultExport).filter((n) => n !== '__esModule') : [];
  const what = defaultExport === undefined ? undefined : held.length > 0 ? `${kindOf(defaultExport)} holding ${held.join(', ')}` : kindOf(defaultExport);
  const parts = [...(names.length > 0 ? [`only ${names.join(', ')}`] : []), ...(what ? [`a default (module.exports in CommonJS) that is ${what}`] : [])];
  return parts.length === 0 ? 'nothing' : parts.join(', and ');
}

export async function loadApp(app: string | undefined, ctx: AppContext): Promise<RequestListener> {
  const specifier = specifierOf(app);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(specifier)) as Record<string, unknown>;
  } catch (err) {
    const failure = await appFailure('CORRAL_ERR_APP_LOAD', `cannot import app module ${app ?? '(bundled app)'}`, err, specifier);
    throw importFailureLasts(err) ? lasting(failure) : failure;
  }
  const { factory, defaultExport } = exportsOf(mod);
  let listener: unknown;
  try {
    if (typeof factory === 'function') listener = await (factory as (c: AppContext) => unknown)(ctx);
    else listener = defaultExport;
  } catch (err) {
    // An app that says why with a code of its own (the bundled app's session secret file refused)
    // keeps it: worker.boot_failed then carries the code its README entry is found by.
    const code = err instanceof CorralError ? err.code : 'CORRAL_ERR_APP_LOAD';
    const failure = await appFailure(code, `createApp() of ${app ?? '(bundled app)'} threw`, err, specifier);
    // A module it imports itself (`await import('express')`, a require() of a route file) that is
    // not there or does not parse fails every boot as the app's own import does: said as passing,
    // the master exited 3 and systemd restarted it every few seconds for good (boot-lasting.ts).
    throw factoryFailureLasts(err) ? lasting(failure) : failure;
  }
  if (typeof factory !== 'function' && isListener(listener) && listener.length === 1) {
    // `export default async (ctx) => ...` (or module.exports = ..., or TypeScript's
    // exports.default = factory): createApp by another name, which the loader cannot tell from a
    // listener by its name. Served as one, it answered no request, each held until its client
    // gave up, and nothing was logged. A listener takes (req, res), a framework's (req, res, next).
    throw lasting(
      new CorralError(
        'CORRAL_ERR_APP_LOAD',
        `app module ${app ?? '(bundled app)'} exports a default function that takes one parameter (${listener.name && listener.name !== 'default' ? listener.name : 'anonymous'}), not a request listener (req, res): if it is createApp(ctx), export it as createApp (export function createApp, exports.createApp) or name the function createApp`,
      ),
    );
  }
  if (!isListener(listener)) {
    const found = typeof factory === 'function' ? `its createApp() returned ${kindOf(listener)}` : `it exports ${exportNames(mod, defaultExport)}`;
    const failure = new CorralError(
      'CORRAL_ERR_APP_LOAD',
      `app module ${app ?? '(bundled app)'} must export createApp(ctx) returning a request listener (req, res) => void, or a default export that is one: ${found}`,
    );
    // A module that exports neither fails alike every time; what a createApp() returns may depend
    // on its run (one that swallows a database error and resolves nothing).
    throw typeof factory === 'function' ? failure : lasting(failure);
  }
  return listener;
}
