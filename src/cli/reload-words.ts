// How `corral reload --wait` and `corral status` say where reloads stand, in one set of words:
// `status` said nothing of a reload rolled back without a token, nor of what only a restart applies.

import type { ReloadEnding, ReloadStanding } from './reload-wait.js';

type LastReload = NonNullable<ReloadStanding['last']>;

/** How to restart, with systemd or without (corral has no restart command of its own). */
export const RESTART_HOW = 'systemctl restart corral, or corral stop, then corral start';

/**
 * What the last reload left until a restart, or undefined. A new build of corral is said by the
 * log's reload.code_changed, a setting by its config.restart_needed.
 */
export function restartNeededText(last: LastReload | null | undefined): string | undefined {
  const kept = last?.restart_needed ?? [];
  if (kept.length === 0) return undefined;
  const code = kept.includes('corral code');
  const settings = kept.some((k) => k !== 'corral code');
  const lines = [code ? 'reload.code_changed' : undefined, settings ? 'config.restart_needed' : undefined].filter((l) => l !== undefined).join(' and ');
  // A moved pidfile: `corral stop` now looks where the file says, and the master is not there.
  const pidfile = kept.includes('CORRAL_PIDFILE') ? '; the running master is at the CORRAL_PIDFILE it started with: stop it with that one in the environment (CORRAL_PIDFILE=<old path> corral stop), or with systemctl' : '';
  return `not applied until a restart (${RESTART_HOW}): ${kept.join(', ')} (${lines} in the log says what runs and what is configured)${pidfile}`;
}

/** The gist of a reload that ended without applying (its own message needs the token). */
export function reloadGist(last: LastReload & { readonly outcome: Exclude<LastReload['outcome'], 'completed'> }): string {
  const said = { refused: 'refused', rolled_back: 'rolled back', incomplete: 'incomplete' }[last.outcome];
  return `last reload ${said} (${last.code}), generation ${last.generation} serves; the log's reload.failed line says why`;
}

/**
 * Why `reload --wait` stopped following a reload that had not ended, with the code a script or a
 * journal search keys on: these were the failures a command printed without one.
 */
export function unfinishedText(end: Exclude<ReloadEnding, { readonly kind: 'ended' }>, pid: number): string {
  switch (end.kind) {
    case 'stopping':
      return `[CORRAL_ERR_MASTER_STOPPING] corral began to stop (master pid ${pid}) before the reload ended: it was dropped or cut short`;
    case 'master-gone':
      return `[CORRAL_ERR_RELOAD_UNFINISHED] the master (pid ${pid}) exited before the reload ended; its log says why`;
    case 'timeout': {
      const where = end.standing?.in_progress_generation != null ? `: generation ${end.standing.in_progress_generation} is still booting or the old workers still drain` : end.why ? ` (${end.why})` : '';
      return `[CORRAL_ERR_RELOAD_UNFINISHED] the reload had not ended after ${Math.round(end.waitedMs / 1000)} s, past its bound without progress${where}; it goes on: watch the log for reload.done or reload.failed`;
    }
  }
}
