// What a reload does with the settings it read: which of them only a restart applies (the data
// dir among them), whether the new CORRAL_BIND can be bound beside the running one, whether the keeper must restart, whether
// corral's code on disk is another build than the master's, and the lines that tell the operator so. The decisions are pure functions of the settings; planReload
// logs them in the order a reload always has. The arbiter then starts the new generation.

import type { InstallMove } from './code-identity.js';
import { join } from 'node:path';
import { JOURNAL_FILE } from '../sheets/keeper/journal-open.js';
import { keepingSetting, type LoadedSettings } from '../config/load.js';
import { displayValue } from '../config/shown-value.js';
import type { Settings } from '../config/schema.js';
import { sheetsSchema } from '../config/schema-sheets.js';
import type { HostPort } from '../config/spec.js';
import type { Logger } from '../log/logger.js';
import type { RestartNeeded } from './admin/view.js';
import { bindsOverlap, clusterSharesLoopback, v6WildcardTakesIPv4 } from '../config/bind-overlap.js';

/**
 * Settings the keeper reads: a reload that changes one restarts the keeper. Not CORRAL_DATA_DIR,
 * which a reload keeps (keptDataDir).
 */
const KEEPER_SETTINGS = [...(Object.keys(sheetsSchema) as (keyof typeof sheetsSchema)[]), 'CORRAL_LOG_FILE', 'CORRAL_LOG_LEVEL'] as const;

/**
 * Settings the master applies once, at start: the listening socket's (node:cluster fixes its
 * scheduling policy at the first fork, and the socket keeps its queue while any worker listens on
 * the address), the admin listener's, and the pidfile's path (the master wrote the file at start;
 * `corral stop` reading a new path would not find it). A reload cannot change them, only a
 * restart: the log and the admin API's reload answer say so.
 */
export const RESTART_ONLY_SETTINGS = ['CORRAL_ACCEPT', 'CORRAL_BACKLOG', 'CORRAL_ADMIN_BIND', 'CORRAL_PIDFILE'] as const;

/** A restart-only setting the reload leaves as it runs; `changed` when this reload is the first to configure that value. */
export interface RestartOnlyChange extends RestartNeeded {
  readonly changed: boolean;
}

/**
 * The restart-only settings `next` configures differently from what runs. Compared with what runs
 * (the value at start), not with the previous reload's: a second reload with the same edit still
 * leaves it unapplied, and one that edits it back to the running value must not be told it
 * changed. `previous` (the settings of the generation now serving) tells a new edit from a repeat.
 */
export function restartOnlyChanges(started: Settings, previous: Settings, next: Settings): RestartOnlyChange[] {
  const out: RestartOnlyChange[] = [];
  for (const name of RESTART_ONLY_SETTINGS) {
    const [running, was, now] = [displayValue(name, started[name]), displayValue(name, previous[name]), displayValue(name, next[name])];
    if (running !== now) out.push({ setting: name, running, configured: now, changed: was !== now });
  }
  return out;
}

/**
 * A new CORRAL_BIND on the port the running workers listen on, at an address overlapping theirs
 * (127.0.0.1:8080 to 0.0.0.0:8080): the new generation cannot bind it while the old one holds it,
 * and the old one drains only once the new one is ready. Every boot attempt failed with
 * EADDRINUSE until the reload was rolled back, seconds later, the whole reload lost. The reload
 * now keeps the running address, applies the rest, and says the new one needs a restart. (A
 * host name cannot be judged before it is resolved at listen time: that case is left to the
 * boot, as before. localhost beside the loopback address it resolves to is no overlap for
 * cluster workers: see clusterSharesLoopback.) Returns what the reload keeps, or undefined when
 * `wanted` can be applied.
 */
export function overlappingBind(running: HostPort, wanted: HostPort, listeningPort: number | undefined, dualStack: boolean): RestartNeeded | undefined {
  const [runningText, wantedText] = [displayValue('CORRAL_BIND', running), displayValue('CORRAL_BIND', wanted)];
  const held = { host: running.host, port: listeningPort ?? 0 };
  if (!listeningPort || runningText === wantedText || bindsOverlap(held, wanted, dualStack) !== true || clusterSharesLoopback(held, wanted)) return undefined;
  return { setting: 'CORRAL_BIND', running: runningText, configured: wantedText };
}

/**
 * A new CORRAL_BIND on the address the admin API listens on: a reload does not move the admin
 * API (CORRAL_ADMIN_BIND is restart-only), so a file that swaps the two ports (the app onto the
 * admin's, the admin elsewhere) passed the check of the settings as a whole, which sees the file's
 * admin address, and every new worker then failed with EADDRINUSE until the reload rolled back,
 * boot attempts and backoffs later. The reload keeps the running address, as for an overlapping
 * one; the restart that moves the admin API applies it. Undefined when `wanted` can be applied.
 */
export function bindOnAdminListener(running: HostPort, wanted: HostPort, admin: HostPort | undefined, dualStack: boolean): RestartNeeded | undefined {
  if (!admin || bindsOverlap(admin, wanted, dualStack) !== true) return undefined;
  return { setting: 'CORRAL_BIND', running: displayValue('CORRAL_BIND', running), configured: displayValue('CORRAL_BIND', wanted) };
}

/**
 * A new CORRAL_DATA_DIR is kept for the next restart, as the restart-only settings are. The data
 * dir holds the journal of writes answered 201 and not yet in the sheet: a reload moved the
 * keeper to the new dir after a 5 s drain, and the rows still in the old journal were never sent
 * (a corral sends a journal only from the dir it runs on), while the old keeper said they were
 * kept "for the next start" (audit: 30 of 30 stranded while Google failed). It also holds the
 * session secret and, without SHEET_ID, the offline sheet itself. Refused at every reload, not
 * only while rows wait: the backlog can grow between any check and the drain, and Google can
 * fail during the drain. A restart still moves it: the operator chooses the moment, after the
 * backlog is 0, and the stopping keeper names the journal any rows it could not send stay in.
 * Compared with the running dir; `changed` when the file's value is not the one a previous reload
 * already kept it from (LoadedSettings.kept), so it is said once per edit.
 */
export function keptDataDir(current: LoadedSettings, next: LoadedSettings): RestartOnlyChange | undefined {
  const running = displayValue('CORRAL_DATA_DIR', current.settings.CORRAL_DATA_DIR);
  const configured = displayValue('CORRAL_DATA_DIR', next.settings.CORRAL_DATA_DIR);
  if (running === configured) return undefined;
  const was = current.kept?.CORRAL_DATA_DIR ?? running;
  return { setting: 'CORRAL_DATA_DIR', running, configured, changed: was !== configured };
}

/**
 * The keeper outlives reloads (its cache stays warm), unless a setting it reads changed: then it
 * is drained and a new one started before the new generation of workers boots.
 */
export function changedKeeperSettings(before: Settings, after: Settings): string[] {
  return KEEPER_SETTINGS.filter((name) => JSON.stringify(before[name]) !== JSON.stringify(after[name]));
}

/**
 * Settings the file sets but the master's environment overrides (systemd's Environment=, an
 * exported variable): an operator who edited one of them in the file and reloaded saw nothing
 * change, and nothing said why. Said at start and at every reload while it holds.
 */
export function logEnvOverrides(log: Logger, loaded: LoadedSettings): void {
  if (loaded.envOverrides.length === 0) return;
  const list = loaded.envOverrides.map((o) => `${o.setting} (file: ${o.file}, used: ${o.environment})`).join(', ');
  log.warn(
    { event: 'config.env_overrides', settings: loaded.envOverrides.map((o) => o.setting), env_file: loaded.envFile ?? null },
    `set in ${loaded.envFile ?? 'the settings file'} and in the master's environment, whose value is used, so the file's has no effect: ${list}; remove them from the environment (under systemd, Environment= or EnvironmentFile= in the unit) to manage them in the file`,
  );
}

export interface ReloadPlanInput {
  /** The settings the master started with: what runs of the restart-only ones. */
  readonly started: Settings;
  /** The settings of the generation now serving. */
  readonly current: LoadedSettings;
  /** The settings just read. */
  readonly next: LoadedSettings;
  /** The port a worker of the serving generation listens on, if one does. */
  readonly listeningPort: number | undefined;
  /** Where the admin API listens (its host at start, the port it was given), if it does. */
  readonly adminListening?: HostPort | undefined;
  /** The CORRAL_BIND a reload last kept the running address instead of. */
  readonly refusedBind: string | undefined;
  /** The file the master's own lines go to, as the reload answer names it. */
  readonly masterLogFile: string;
  /** Applies CORRAL_LOG_LEVEL and CORRAL_LOG_FILE to the master's own logger; false = needs a restart. */
  readonly configureLogs: ((settings: Settings) => boolean) | undefined;
  /** The build the master runs, the one on disk, and the one a reload last said needs a restart (code-identity.ts). */
  readonly code?: { readonly running: string | undefined; readonly onDisk: string | undefined; readonly said: string | undefined };
  /** The install the path corral was started as leads to now, when moved, and the one a reload last said. */
  readonly installMove?: { readonly move: InstallMove | undefined; readonly said: string | undefined };
  readonly log: Logger;
}

export interface ReloadPlan {
  /** The settings the new generation runs: `next`, with CORRAL_BIND kept when it overlaps. */
  readonly next: LoadedSettings;
  readonly restartNeeded: readonly RestartNeeded[];
  readonly refusedBind: string | undefined;
  readonly masterLogFile: string;
  /** The build on disk this reload said needs a restart, or the one said before. */
  readonly codeChangeSaid: string | undefined;
  /** The install this reload said the launcher leads to, or the one said before. */
  readonly installMoveSaid: string | undefined;
}

/** Decides what the reload applies, applies the master's log settings, and logs what it does not apply. */
export function planReload(p: ReloadPlanInput): ReloadPlan {
  const { log } = p;
  const restartNeeded: RestartNeeded[] = [];
  for (const { changed, ...needed } of restartOnlyChanges(p.started, p.current.settings, p.next.settings)) {
    restartNeeded.push(needed);
    const { setting: name, running, configured: now } = needed;
    // Logged once per change of the setting: the reloads after it, with the same value, change nothing.
    if (changed) log.warn({ event: 'config.restart_needed', setting: name, running, configured: now }, `${name} changed from ${running} to ${now}: it takes effect at the next restart (systemctl restart corral), not on reload`);
  }
  let next = p.next;
  const dataDir = keptDataDir(p.current, next);
  if (dataDir) {
    const { changed, ...needed } = dataDir;
    restartNeeded.push(needed);
    const { running, configured } = needed;
    if (changed) {
      log.warn(
        { event: 'config.restart_needed', setting: 'CORRAL_DATA_DIR', running, configured },
        `CORRAL_DATA_DIR changed from ${running} to ${configured}: the reload keeps ${running}, whose journal (${join(running, JOURNAL_FILE)}) holds the writes acknowledged and not yet in the sheet, which only a corral running on ${running} sends; to move, wait until the journal backlog is 0 (sheets.journal_backlog in /api/admin/stats), then restart (systemctl restart corral)`,
      );
    }
    next = keepingSetting(next, 'CORRAL_DATA_DIR', p.current.settings.CORRAL_DATA_DIR);
  }
  let refusedBind: string | undefined;
  const dualStack = v6WildcardTakesIPv4();
  const overlapping = overlappingBind(p.current.settings.CORRAL_BIND, next.settings.CORRAL_BIND, p.listeningPort, dualStack);
  const onAdmin = overlapping ? undefined : bindOnAdminListener(p.current.settings.CORRAL_BIND, next.settings.CORRAL_BIND, p.adminListening, dualStack);
  const kept = overlapping ?? onAdmin;
  if (kept) {
    const { running: runningText, configured: wantedText } = kept;
    restartNeeded.push(kept);
    // Once per change, as the other settings only a restart applies.
    if (p.refusedBind !== wantedText) {
      const admin = p.adminListening && displayValue('CORRAL_ADMIN_BIND', p.adminListening);
      log.warn(
        { event: 'config.restart_needed', setting: 'CORRAL_BIND', running: runningText, configured: wantedText },
        onAdmin
          ? `CORRAL_BIND ${wantedText} overlaps ${admin}, where the admin API listens until a restart (a reload does not move CORRAL_ADMIN_BIND): new workers could not bind it (EADDRINUSE), so the reload keeps ${runningText}; moving to ${wantedText} needs a restart (systemctl restart corral)`
          : `CORRAL_BIND ${wantedText} overlaps ${runningText}, which the running workers listen on: new workers could not bind it while they do (EADDRINUSE), so the reload keeps ${runningText}; moving to ${wantedText} needs a restart (systemctl restart corral)`,
      );
    }
    refusedBind = wantedText;
    next = keepingSetting(next, 'CORRAL_BIND', p.current.settings.CORRAL_BIND);
  }
  // Applied, unlike the socket's other settings (node:cluster opens one socket per address): the
  // new generation listens on the new address and the old one closes with its last worker, which
  // clients of the old address find out only as refused connections unless the log says so.
  const [bindWas, bindNow] = [displayValue('CORRAL_BIND', p.current.settings.CORRAL_BIND), displayValue('CORRAL_BIND', next.settings.CORRAL_BIND)];
  if (bindWas !== bindNow) {
    // localhost and a loopback address on the same port may be one socket (clusterSharesLoopback).
    const held = { host: p.current.settings.CORRAL_BIND.host, port: p.listeningPort ?? p.current.settings.CORRAL_BIND.port };
    const maybeShared = next.settings.CORRAL_BIND.port === held.port && clusterSharesLoopback(held, next.settings.CORRAL_BIND);
    log.warn(
      { event: 'config.bind_moved', running: bindWas, configured: bindNow },
      `CORRAL_BIND changed from ${bindWas} to ${bindNow}: the new generation listens on ${bindNow}; ${bindWas} closes as the old workers begin to drain, once the new ones have settled: new connections to it are refused from then on, the requests already on it finish` +
        (maybeShared ? ` (unless localhost resolves to the address served: the new workers then share its socket, which stays open)` : ''),
    );
  }
  const logsApplied = p.configureLogs?.(next.settings) ?? true;
  const [was, now] = [displayValue('CORRAL_LOG_FILE', p.current.settings.CORRAL_LOG_FILE), displayValue('CORRAL_LOG_FILE', next.settings.CORRAL_LOG_FILE)];
  if (!logsApplied) restartNeeded.push({ setting: 'CORRAL_LOG_FILE', running: p.masterLogFile, configured: now });
  // Once per change of the setting: the reloads after it, with the same value, change nothing.
  if (!logsApplied && was !== now) {
    log.warn({ event: 'config.restart_needed', setting: 'CORRAL_LOG_FILE', running: was, configured: now }, `CORRAL_LOG_FILE changed from ${was} to ${now}: the master's own lines move at the next restart (systemctl restart corral)`);
  }
  // A new build of corral on disk: the new workers (and a keeper the reload restarts) run it, the
  // master cannot. Once per build, as a setting's change.
  let codeChangeSaid = p.code?.said;
  const { running: runningCode, onDisk } = p.code ?? {};
  if (runningCode !== undefined && onDisk !== undefined && runningCode !== onDisk) {
    restartNeeded.push({ setting: 'corral code', running: `build ${runningCode}`, configured: `build ${onDisk} on disk` });
    if (codeChangeSaid !== onDisk) {
      log.warn(
        { event: 'reload.code_changed', running: runningCode, on_disk: onDisk },
        `corral's code on disk is another build (${onDisk}) than the master runs (${runningCode}): the new workers and the keeper run it, the master goes on with its own until a restart (systemctl restart corral); restart after upgrading corral`,
      );
      codeChangeSaid = onDisk;
    }
  } else if (runningCode !== undefined && onDisk === runningCode) {
    // The master's build is back on disk (an upgrade undone): the next upgrade is said again, even to the same build.
    codeChangeSaid = undefined;
  }
  // A release switched under the path corral was started as (a symlink deploy): the master forks
  // the release it resolved at start, whatever the link says now. Once per release, as a build.
  let installMoveSaid = p.installMove?.said;
  const move = p.installMove?.move;
  if (move !== undefined) {
    if (!restartNeeded.some((r) => r.setting === 'corral code')) restartNeeded.push({ setting: 'corral code', running: move.running, configured: `${move.now} (where ${move.launcher} leads now)` });
    if (installMoveSaid !== move.now) {
      log.warn(
        { event: 'reload.code_changed', running_dir: move.running, launcher: move.launcher, launcher_dir: move.now },
        `corral was started as ${move.launcher}, which now leads to ${move.now}, but the master runs ${move.running} and forks its workers and keeper from there: this reload runs the code of ${move.running}, not of ${move.now}; restart corral to run it (systemctl restart corral, or corral stop, then corral start)`,
      );
      installMoveSaid = move.now;
    }
  }
  return { next, restartNeeded, refusedBind, masterLogFile: logsApplied ? now : p.masterLogFile, codeChangeSaid, installMoveSaid };
}
