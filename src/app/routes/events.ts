// POST /api/events: an authenticated, validated append through the durable write path. The 201 is
// sent only after ctx.sheets.append resolved, i.e. after the row is fsynced in the journal, so a
// crash of this worker right after the answer loses nothing.
//
// With an Idempotency-Key header (../idempotency-key.ts) a retry is safe: the keeper remembers the
// key with the first answer, and a retry with the same key and body gets that answer again (the
// same id and at, `Idempotent-Replayed: true`) without a second row; another body with the key is
// a 422, and a retry while the first is still being journaled a 409, as the IETF draft asks.

import { randomUUID } from 'node:crypto';
import { readJsonObject } from '../body.js';
import { retryAfterSeconds, sheetsFailure, type AppDeps } from '../deps.js';
import { EVENT_COLUMNS, eventLayout, type EventValues } from '../event-columns.js';
import { HttpError, sendJson, sendJsonText } from '../http.js';
import { keyOwner, readIdempotencyKey, requestFingerprint, scopedKey } from '../idempotency-key.js';
import type { Handler } from '../router.js';
import { onlyFields, optionalText, requireText } from '../validate.js';
import type { IdempotencyClaim, SheetRecords } from '../../sheets/types.js';
import { describeError, NotSentError } from '../../errors.js';
import { RepeatedFailure } from '../../log/repeated-failure.js';
import { StartedAfterFailure } from '../../log/started-after-failure.js';
import { firstRowOf } from '../../sheets/a1.js';

export { EVENT_COLUMNS };

export const KIND_MAX = 64;
export const DETAIL_MAX = 2000;

/** Most bytes one character of a string takes in JSON: one outside the BMP escaped as a surrogate pair, `\ud83d\ude00`. */
const JSON_BYTES_PER_CHAR_MAX = 12;
/**
 * The rest of the body at its widest: both keys escaped (`"\u006b…"`: 6 bytes a letter), the
 * quotes, colon, comma and braces, a byte order mark, and the whitespace a pretty-printer adds.
 */
const EVENT_BODY_ENVELOPE = 1024;
/**
 * The body limit of POST /api/events: every valid event fits in its most escaped JSON (Python's
 * json.dumps escapes every non-ASCII character by default: 2000 emoji in `detail` are 24,000
 * bytes, over the app's 16 KiB default). 25,792 bytes: still small, and read only once the token
 * checked out (a client without one gets its 401 before any of its body is read), so a slow or
 * large body still costs little. Whitespace around a value, which validation trims away, is not
 * counted: it is no part of the event.
 */
export const EVENT_BODY_LIMIT = (KIND_MAX + DETAIL_MAX) * JSON_BYTES_PER_CHAR_MAX + EVENT_BODY_ENVELOPE;
/**
 * A full or failing disk, or an Events header the app cannot write under, takes an operator to
 * fix: clients are asked to wait longer than for a blip upstream.
 */
export const NOT_SAVED_RETRY_AFTER_S = 30;

/** The keeper's refusals of a key, as the draft answers them. */
function idempotencyFailure(err: unknown): HttpError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'CORRAL_ERR_IDEMPOTENCY_MISMATCH') {
    return new HttpError('idempotency_key_reused', 'this Idempotency-Key was already used for a different request (another body); send a new key for a new request');
  }
  if (code === 'CORRAL_ERR_IDEMPOTENCY_IN_FLIGHT') {
    return new HttpError('idempotency_key_in_flight', 'a request with this Idempotency-Key is still being processed; retry shortly', { headers: { 'Retry-After': '1' } });
  }
  return undefined;
}

/**
 * The keeper could not write its journal (disk full, I/O error, data dir read-only), or its backlog
 * is at SHEETS_JOURNAL_MAX_MB: the event was not saved, and saying "the sheet cannot be reached"
 * would send the operator to Google.
 */
function notSaved(err: unknown, keyed: boolean): HttpError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  const headers = { 'Retry-After': String(NOT_SAVED_RETRY_AFTER_S) };
  if (code === 'CORRAL_ERR_JOURNAL_UNWRITABLE') {
    return new HttpError('not_saved', 'the server could not save the event (its storage cannot be written); nothing was recorded: retry later', { headers });
  }
  // The journal holds SHEETS_JOURNAL_MAX_MB of rows the sheet has not taken: the same answer (the
  // event was not saved, retry later), not "the sheet cannot be reached", which reads is not true.
  if (code === 'CORRAL_ERR_JOURNAL_FULL') {
    return new HttpError('not_saved', 'the server could not save the event (too many events are waiting to reach the sheet); nothing was recorded: retry later', { headers });
  }
  // Never passed to the keeper (every connection to it busy for the whole wait, it was draining,
  // or no connection could be made: its socket gone, nothing listening): not "may or may not have
  // been saved", which tells a client without a key not to retry an event the server never had.
  // A busy or restarting keeper, not one an operator must fix: its own wait.
  // The refusals above come from the keeper after it looked the key up (a key it holds is replayed
  // first), so they are true of a keyed request too. This one never reached the keeper: a retry
  // whose first request the keeper saved before it became unreachable was told "nothing was
  // recorded", and a client that gave up on it took a recorded event for a lost one.
  if (err instanceof NotSentError) {
    const outcome = keyed
      ? 'this request recorded nothing, but an earlier request with this Idempotency-Key may have been saved: retry with the same key and body later, which answers its 201 if it was'
      : 'nothing was recorded: retry later';
    return new HttpError('not_saved', `the server could not pass the event to its storage; ${outcome}`, { headers: { 'Retry-After': String(retryAfterSeconds(err)) } });
  }
  return undefined;
}

/**
 * The keeper went silent or away while the event was on its way to it: it may have journaled the
 * event just before. "The sheet cannot be reached; retry shortly" read like a read failure, and a
 * retry without a key saves the event twice. Same error code, a message that says what is known.
 */
function outcomeUnknown(err: unknown, keyed: boolean): HttpError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code !== 'CORRAL_ERR_KEEPER_UNAVAILABLE' && code !== 'CORRAL_ERR_KEEPER_SLOW') return undefined;
  const retry = keyed
    ? 'retry with the same Idempotency-Key and body, which saves it once whichever it was'
    : 'a retry may save it twice (a key sent only with the retry cannot tell): send an Idempotency-Key header with each new event, the same one on each of its retries, so that they are safe';
  return new HttpError('sheets_unavailable', `the server lost touch with its storage while saving the event, which may or may not have been saved; ${retry}`, {
    headers: { 'Retry-After': String(retryAfterSeconds(err)) },
  });
}

/** The header row of the events range (`Events` → `Events!1:1`): one row to read, not the whole tab. */
function headerRangeOf(range: string): string {
  try {
    return firstRowOf(range);
  } catch {
    // Not A1: the read is refused upstream, as the append would be.
    return range;
  }
}

export function eventsRoute(deps: AppDeps): Handler {
  const range = deps.eventsRange;
  const headerRange = headerRangeOf(range);
  const logger = deps.ctx.logger;
  // A header the app cannot write under refuses every event until an operator fixes the tab: said
  // at the first refusal, then at most once a minute with a count, and once when events fit again.
  // Another wrong header (a fix that missed) is said at once: the line names the header found.
  let badHeader = { text: '', failure: new RepeatedFailure() };
  // The header row as last read. An append never changes row 1, but it ends this worker's hold
  // on every copy of its tab (read-your-writes), so after each event the next one's header read
  // went to the keeper: with the keeper restarting, a POST waited on it twice (header, append)
  // and outlasted a draining worker's graceful timeout (ECONNRESET in the chaos soak). Once read,
  // the last header serves while a fresh read goes on beside the request; a broken header is
  // seen one event later (a fixed one at once: headerToJudge). Where each value lands is settled
  // by the keeper when the row is sent, under the header the tab has then (the row travels with
  // the header it was built under): this read only decides whether an event is refused.
  //
  // Only a copy fetched no earlier than the last one replaces it: the keeper serves a copy past its
  // TTL while it refreshes it, and a worker that had seen the header fixed (in a copy it held)
  // took such an older copy from its refresh, and refused the next event under the broken header
  // (or acknowledged one under a header it had already seen broken), its log saying "invalid"
  // and "fixed" by turns without an edit.
  let last: { readonly header: readonly string[]; readonly fetchedAt: number } | undefined;
  const take = (copy: SheetRecords): readonly string[] => {
    if (!last || copy.read.fetchedAt >= last.fetchedAt) last = { header: copy.header, fetchedAt: copy.read.fetchedAt };
    return last.header;
  };
  // The read of the header going on beside the requests, one at a time; it never fails (a failed
  // read leaves the last header in place).
  let refreshing: Promise<void> | undefined;
  const refreshHeader = (): Promise<void> => {
    refreshing ??= deps
      .records(headerRange)
      .then(
        (r) => void take(r),
        () => undefined,
      )
      .finally(() => (refreshing = undefined));
    return refreshing;
  };
  /** The header to build under, and the read begun beside it when it is the last one read rather than a copy held now. */
  const headerNow = async (): Promise<{ header: readonly string[]; refresh?: Promise<void> }> => {
    const held = deps.cachedRecords(headerRange);
    if (held) return { header: take(held) };
    if (last) return { header: last.header, refresh: refreshHeader() };
    return { header: take(await deps.records(headerRange)) };
  };
  /**
   * The header an event is judged by. An event the last header refuses waits for the read begun
   * beside it when that header is no copy held now (past SHEET_CACHE_TTL, or its hold ended by an
   * append): a worker idle since it saw the header broken refused its first event after the fix,
   * however long after, told its client to wait 30 s and logged that the tab could not take
   * events, with the header as it was before the fix. Only a refusal waits: an event the last
   * header takes is built at once, as above, and the keeper writes it under the tab's header.
   */
  const headerToJudge = async (): Promise<readonly string[]> => {
    const { header, refresh } = await headerNow();
    if (refresh === undefined || eventLayout(header).ok) return header;
    await refresh;
    return last?.header ?? header;
  };
  /**
   * Builds the event's row in the order of the tab's header row as this worker last read it, and
   * returns that header with it: the keeper writes the row under the header the tab has when the
   * row is sent, matched by name (keeper/header-mapping.ts), so a header edited since, or while the
   * row waits in the journal, does not misplace it.
   */
  const rowFor = async (values: EventValues, keyed: boolean): Promise<{ row: string[]; header: readonly string[] }> => {
    const header = await headerToJudge();
    const layout = eventLayout(header);
    if (layout.ok) {
      badHeader.failure.ended((total) =>
        logger.info({ event: 'app.events_header_fixed', range, refused: total }, `POST /api/events: the header row of ${range} fits again; ${total} events were refused meanwhile`),
      );
      const row = layout.row(values);
      // The names past the row's last cell carry no value: an organiser's extra columns are not
      // journaled with every event.
      return { row, header: header.length > row.length ? header.slice(0, row.length) : header };
    }
    const text = JSON.stringify(header);
    if (text !== badHeader.text) badHeader = { text, failure: new RepeatedFailure() };
    badHeader.failure.failed((refused, total) =>
      logger.error(
        { event: 'app.events_header_invalid', code: 'CORRAL_ERR_EVENTS_HEADER', range, header, refused, refused_total: total },
        `POST /api/events: the tab ${range} cannot take events: ${layout.problem} (found: ${header.length > 0 ? header.join(', ') : 'nothing'}); ` +
          `nothing was written and ${refused} event${refused === 1 ? ' was' : 's were'} answered 503. Fix: make row ${headerRange} name ${EVENT_COLUMNS.join(', ')} ` +
          `(event_id first, the others in any order; other columns are left empty), or point SHEET_EVENTS_RANGE at a tab that does`,
      ),
    );
    // Refused here, before the keeper is asked: a retry with an Idempotency-Key whose first request
    // was saved (its row waits in the journal for the header to be fixed) was told "nothing was
    // written", and a client that gave up on it took a recorded event for a lost one.
    const outcome = keyed
      ? 'this request wrote nothing, but an earlier request with this Idempotency-Key may have been saved: retry with the same key and body later, which answers its 201 once the header is fixed'
      : 'nothing was written, retry later';
    throw new HttpError('events_header_invalid', `the server cannot record events now: the sheet's Events header row is not one it can write under (the operator is told in the log); ${outcome}`, {
      headers: { 'Retry-After': String(NOT_SAVED_RETRY_AFTER_S) },
    });
  };
  // A full disk or a keeper that is down refuses every append until it is fixed: the first refusal
  // is logged with its cause, then a count at most once a minute, and the first saved append after.
  const appendFailure = new RepeatedFailure();
  // Only an append begun after a failure says appends are saved again (started-after-failure.ts).
  const tickets = new StartedAfterFailure<'append'>();
  const failed = (err: unknown) => {
    tickets.failed('append');
    appendFailure.failed((failed, total) => {
      const { code, message } = describeError(err);
      logger.error(
        { event: 'app.event_append_failed', code: code ?? null, message, failed, failed_total: total },
        failed === 1
          ? `POST /api/events: an append failed (${message}); answered 503. While appends keep failing this is said at most once a minute, with a count`
          : `POST /api/events: ${failed} appends failed since the last such line (${message}); answered 503`,
      );
    });
  };
  const saved = (ticket: number) => {
    if (!tickets.beganAfter('append', ticket)) return;
    appendFailure.ended((total) =>
      logger.info({ event: 'app.event_append_recovered', failed: total }, `POST /api/events: appends are saved again; ${total} failed meanwhile`),
    );
  };
  return async ({ req, res }) => {
    // A player removed from the roster cannot post, even with a token that has not expired yet.
    const player = await deps.requireRosterPlayer(req);
    const key = readIdempotencyKey(req);
    const body = await readJsonObject(req, EVENT_BODY_LIMIT);
    onlyFields(body, ['kind', 'detail']);
    const kind = requireText(body, 'kind', { min: 1, max: KIND_MAX });
    const detail = optionalText(body, 'detail', { min: 0, max: DETAIL_MAX, multiline: true });
    const id = randomUUID();
    const at = new Date().toISOString();
    const { row, header } = await rowFor({ event_id: id, player: player.name, kind, detail, at }, key !== undefined);
    const idempotency: IdempotencyClaim | undefined =
      key === undefined
        ? undefined
        : {
            key: scopedKey('POST /api/events', player.name, key),
            fingerprint: requestFingerprint([kind, detail]),
            answer: JSON.stringify({ id, at }),
            owner: keyOwner(player.name),
          };
    let replayed: string | undefined;
    const ticket = tickets.begin();
    try {
      replayed = (await deps.sheets().append(range, [row], { header, ...(idempotency ? { idempotency } : {}) })).replayed;
    } catch (err) {
      const refused = idempotencyFailure(err);
      if (refused) throw refused;
      failed(err);
      throw notSaved(err, key !== undefined) ?? outcomeUnknown(err, key !== undefined) ?? sheetsFailure(err);
    }
    saved(ticket);
    // The keeper's stored answer can be this request's own (its id is a new UUID): the worker link
    // resent the append after the keeper journaled it but before its answer came back (a keeper
    // killed just after the fsync, a slow fsync past the link's timeout). The client sent once;
    // told Idempotent-Replayed, it took its one event for a duplicate of an earlier request.
    if (replayed !== undefined && replayed !== idempotency?.answer) {
      // The first answer's own JSON text, kept by the keeper with the key.
      sendJsonText(res, 201, replayed, { 'Idempotent-Replayed': 'true' });
      return;
    }
    sendJson(res, 201, { id, at });
  };
}
