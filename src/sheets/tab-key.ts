// One key per tab, whatever the case its name is written in. Google finds a tab whatever the case
// of its name (`events!A:A` reads the tab Events, and its answer names it Events), and a
// spreadsheet cannot hold two tabs whose names differ only in case (adding or renaming one so is
// refused, from the UI as from the API); the emulator and the offline sheet find tabs so too. So
// whatever ties rows or copies to a tab (the keeper's journaled rows and their retention, the
// change notices, a worker's copies) keys it by this, not by the name as a range writes it: else
// a read of `events` showed none of the rows journaled for `Events`, and a notice for `Events`
// left copies of `events` held.
//
// toLowerCase(), not toLocaleLowerCase(): the same key on every host whatever its locale (a
// Turkish locale lowers `I` to a dotless ı, and `EVENTS` would not meet `events`), and the fold
// the emulator and the offline sheet find tabs by. Google does not document its fold beyond
// letter case; a name that differs from another only by something toLowerCase() does not fold
// (`ß` and `SS`) keeps a key of its own, as it did before.
//
// A range that names no tab (`A1:E`) is the first tab, whose name a range does not give: its key
// is '', which never meets the first tab's own name (README, "A tab is the same whatever the case
// of its name").

import { parseA1 } from './a1.js';

/** The key of a tab titled `title` ('' for a range that names no tab). */
export function tabKey(title: string | undefined): string {
  return (title ?? '').toLowerCase();
}

/** The key of the tab `range` reads or writes; throws A1ParseError for a range that does not parse. */
export function tabKeyOfRange(range: string): string {
  return tabKey(parseA1(range).sheet);
}

/**
 * The name of the tab `range` reads or writes, as the range writes it ('' for the first tab; the
 * range itself when it does not parse): what a change notice names (change-feed.ts), compared by
 * its receivers through tabKey. Sent as written, not as the key: a worker of the build before
 * keys were folded (one that serves on while a reload starts the new ones) compares names exactly,
 * and holds its copies under the names its ranges write.
 */
export function tabNameOf(range: string): string {
  try {
    return parseA1(range).sheet ?? '';
  } catch {
    return range;
  }
}
