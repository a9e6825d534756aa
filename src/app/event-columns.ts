// Where each field of an event goes in the Events tab. The README promises that columns are found
// by their header row, as the Players tab's are: an operator who orders the tab `event_id, at,
// player, kind, detail` gets each value under its own header, not the player's name under `at`.
//
// event_id must head the range's first column: the keeper's journal and read-back find a row by
// the id in its first cell (journal.ts, a1.ts idColumnOf), so a header that puts it elsewhere
// cannot be served by moving the cells, and is refused like a header that lacks a field.

/** The fields of an event, each written under the header cell of the same name. */
export const EVENT_COLUMNS = ['event_id', 'player', 'kind', 'detail', 'at'] as const;

export type EventField = (typeof EVENT_COLUMNS)[number];
export type EventValues = Readonly<Record<EventField, string>>;

export type EventLayout =
  | { readonly ok: true; row(values: EventValues): string[] }
  | { readonly ok: false; readonly problem: string };

/** A header cell as the Players lookups compare it: a sheet typed by hand says `Event_ID ` too. */
function norm(cell: string): string {
  return cell.trim().toLowerCase();
}

// A cached read hands out the same header array until the tab changes (records.ts): the layout is
// worked out once per copy, not per event.
const layouts = new WeakMap<readonly string[], EventLayout>();

/**
 * The layout the header row asks for, or why no event can be written under it. Columns the app
 * does not know (a `notes` column an organiser added) get empty cells; a field named twice is
 * written under its first column, as the roster takes the first of a repeated name.
 */
export function eventLayout(header: readonly string[]): EventLayout {
  let layout = layouts.get(header);
  if (!layout) {
    layout = layoutOf(header);
    layouts.set(header, layout);
  }
  return layout;
}

function layoutOf(header: readonly string[]): EventLayout {
  const names = header.map(norm);
  const missing = EVENT_COLUMNS.filter((f) => !names.includes(f));
  if (missing.length > 0) {
    return { ok: false, problem: header.length === 0 ? 'it has no header row' : `its header row lacks ${missing.join(', ')}` };
  }
  if (names[0] !== 'event_id') return { ok: false, problem: 'its header row does not start with event_id (the keeper finds rows by the id in the first column)' };
  const at = EVENT_COLUMNS.map((f) => names.indexOf(f));
  // Trailing columns past the last field are left out: Google trims trailing empty cells anyway.
  const width = Math.max(...at) + 1;
  return {
    ok: true,
    row(values) {
      const row = new Array<string>(width).fill('');
      EVENT_COLUMNS.forEach((f, i) => (row[at[i]!] = values[f]));
      return row;
    },
  };
}
