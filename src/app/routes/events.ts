// POST /api/events: an authenticated, validated append through the durable write path. The 201 is
// sent only after ctx.sheets.append resolved, i.e. after the row is fsynced in the journal, so a
// crash of this worker right after the answer loses nothing.

import { randomUUID } from 'node:crypto';
import { readJsonObject } from '../body.js';
import { sheetsFailure, type AppDeps } from '../deps.js';
import { sendJson } from '../http.js';
import type { Handler } from '../router.js';
import { onlyFields, optionalText, requireText } from '../validate.js';

/** Column order of an event row, matching the Events tab's header row. */
export const EVENT_COLUMNS = ['event_id', 'player', 'kind', 'detail', 'at'] as const;

export const KIND_MAX = 64;
export const DETAIL_MAX = 2000;

export function eventsRoute(deps: AppDeps): Handler {
  const range = deps.eventsRange;
  return async ({ req, res }) => {
    // A player removed from the roster cannot post, even with a token that has not expired yet.
    const player = await deps.requireRosterPlayer(req);
    const body = await readJsonObject(req);
    onlyFields(body, ['kind', 'detail']);
    const kind = requireText(body, 'kind', { min: 1, max: KIND_MAX });
    const detail = optionalText(body, 'detail', { min: 0, max: DETAIL_MAX, multiline: true });
    const id = randomUUID();
    const at = new Date().toISOString();
    const row: string[] = [id, player.name, kind, detail, at];
    try {
      await deps.sheets().append(range, [row]);
    } catch (err) {
      deps.ctx.logger.error({ event: 'app.event_append_failed', err }, 'event append failed');
      throw sheetsFailure(err);
    }
    sendJson(res, 201, { id, at });
  };
}
