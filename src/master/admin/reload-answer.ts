// The answer to POST /api/admin/reload, from what the arbiter made of the reload once it handled
// it: the client learns at once whether a new generation boots, waits its turn, or was refused.

import type { EnvOverride } from '../../config/env-overrides.js';
import { statusOf } from '../../errors.js';
import type { ReloadOutcome, RestartNeeded } from './view.js';

export interface ReloadAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** `generation` is the arbiter's current one, answered when the reload did not start one. */
export function reloadAnswer(outcome: ReloadOutcome | undefined, generation: number): ReloadAnswer {
  switch (outcome?.outcome) {
    case 'started':
      return {
        status: 202,
        body: {
          success: true,
          reload: 'started',
          generation: outcome.generation,
          restart_needed: outcome.restartNeeded.map((r) => ({ setting: r.setting, running: r.running, configured: r.configured })),
          env_overrides: outcome.envOverrides.map((o) => ({ setting: o.setting, file: o.file, environment: o.environment })),
          message: `reload started: generation ${outcome.generation} is booting; the old workers drain as its workers become ready${restartNote(outcome.restartNeeded)}${envOverrideNote(outcome.envOverrides)}`,
        },
      };
    case 'queued':
      return {
        status: 202,
        body: {
          success: true,
          reload: 'queued',
          generation: outcome.generation,
          in_progress_generation: outcome.behind,
          message: `a reload to generation ${outcome.behind} is in progress; this one starts generation ${outcome.generation} when it ends, with the settings as they are then`,
        },
      };
    case 'refused':
      // Nothing changed, and asking again changes nothing until the settings are fixed: a 409
      // like the other refusals of this API, not a 202 that reads as done.
      return {
        status: statusOf('reload_refused'),
        body: {
          success: false,
          error: 'reload_refused',
          reload: 'refused',
          generation,
          code: outcome.code ?? null,
          message: `reload refused, the old workers keep serving generation ${generation}; fix the settings and reload again: ${outcome.message}`,
        },
      };
    case undefined:
      // The arbiter drops a reload only once a shutdown has begun (or the master is exiting).
      return { status: statusOf('shutting_down'), body: { success: false, error: 'shutting_down', message: 'corral is shutting down; reload and worker-count changes are ignored' } };
  }
}

/** What the reload leaves as it was; empty when it applies every setting it read. */
function restartNote(needed: readonly RestartNeeded[]): string {
  if (needed.length === 0) return '';
  const list = needed.map((r) => `${r.setting} stays ${r.running} (configured: ${r.configured})`).join(', ');
  return `; not applied until a restart (systemctl restart corral): ${list}`;
}

/** Settings whose line in the file the environment overrides: editing them there changed nothing. */
function envOverrideNote(overrides: readonly EnvOverride[]): string {
  if (overrides.length === 0) return '';
  const list = overrides.map((o) => `${o.setting} stays ${o.environment} (the file says ${o.file})`).join(', ');
  return `; set in the master's environment too, which wins over the settings file: ${list}`;
}
