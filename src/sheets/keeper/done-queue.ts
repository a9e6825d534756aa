// The done entries the journal retains (journal-entries.ts), per tab, in the order they reached
// Google: oldest `doneAt` first, entries done at the same time in journal order. Retention forgets
// them from the front (trimDone), and a read of a copy fetched at `t` shows those of its tab done
// since `t`, a run at the back (rowsFor): each looks at the entries it forgets or shows, not at
// every entry the journal holds. A walk over every entry at every done record made catching up a
// backlog of n entries cost n per batch sent, quadratic overall.

import type { JournalEntry } from './journal-replay.js';

/** One tab's done entries, in done order from `head` on (those before it are forgotten). */
interface TabQueue {
  items: JournalEntry[];
  head: number;
}

/** The front of a queue is dropped in place; the array is cut once that much is dead. */
const COMPACT_AT = 1024;

const doneAtOf = (e: JournalEntry): number => e.doneAt ?? 0;

export class DoneQueue {
  private readonly tabs = new Map<string, TabQueue>();

  /** `position`: an entry's place in journal order (ties of `doneAt` are kept in it). */
  constructor(private readonly position: (e: JournalEntry) => number) {}

  /** Whether `a` reached Google before `b` (the same time: `a` journaled first). */
  private before(a: JournalEntry, b: JournalEntry): boolean {
    const d = doneAtOf(a) - doneAtOf(b);
    return d < 0 || (d === 0 && this.position(a) < this.position(b));
  }

  clear(): void {
    this.tabs.clear();
  }

  /** Takes a done entry; it goes at the back but for the entries done after it (a clock that stepped back, a tie in another order). */
  add(e: JournalEntry): void {
    let q = this.tabs.get(e.sheet);
    if (!q) this.tabs.set(e.sheet, (q = { items: [], head: 0 }));
    let i = q.items.length;
    while (i > q.head && this.before(e, q.items[i - 1]!)) i--;
    if (i === q.items.length) q.items.push(e);
    else q.items.splice(i, 0, e);
  }

  /** Drops a done entry: at once when it is its tab's oldest (retention), else by a search (nothing else forgets one now). */
  remove(e: JournalEntry): void {
    const q = this.tabs.get(e.sheet);
    if (!q) return;
    if (q.items[q.head] === e) {
      q.head++;
      if (q.head === q.items.length) {
        this.tabs.delete(e.sheet);
        return;
      }
      if (q.head >= COMPACT_AT && q.head * 2 >= q.items.length) {
        q.items = q.items.slice(q.head);
        q.head = 0;
      }
      return;
    }
    const i = q.items.indexOf(e, q.head);
    if (i !== -1) q.items.splice(i, 1);
    if (q.head === q.items.length) this.tabs.delete(e.sheet);
  }

  /** The entry that reached Google first of the tabs not in `skip`; undefined when none is left. */
  oldest(skip: ReadonlySet<string>): JournalEntry | undefined {
    let first: JournalEntry | undefined;
    for (const [sheet, q] of this.tabs) {
      if (skip.has(sheet)) continue;
      const e = q.items[q.head]!;
      if (!first || this.before(e, first)) first = e;
    }
    return first;
  }

  /** The tab's entries done at `t` or after, in done order: looked at from the back, as far as the first one done before. */
  since(sheet: string, t: number): JournalEntry[] {
    const q = this.tabs.get(sheet);
    if (!q) return [];
    let i = q.items.length;
    while (i > q.head && doneAtOf(q.items[i - 1]!) >= t) i--;
    return q.items.slice(i);
  }
}
