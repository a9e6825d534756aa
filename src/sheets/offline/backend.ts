// The offline default (no SHEET_ID): a local sheet of CSV files, one per tab, under
// $CORRAL_DATA_DIR/sheet/, seeded from config/sample-sheet/ on first start. It answers in the
// Sheets API's shapes (trailing empty cells and rows trimmed, no `values` key for an empty range,
// the exact `updatedRange` of an append, Google's 400 for an unknown tab), so the keeper and the
// app cannot tell it from Google. Appends rewrite the tab atomically (temp file, fsync, rename):
// a crash leaves the old or the new tab, never a torn row the journal's read-back could misread.
//
// Each tab's parsed rows are kept while its file is the one they were read from (inode, size and
// mtime), and an append to a tab this backend wrote last copies the file (copy_file_range, in the
// kernel) and adds its rows' text: parsing and rewriting the whole tab at each append and each
// header read held the keeper's one thread for 0.5 s at 40k events and 1.8 s at 100k (measured),
// growing with every `corral loadtest` run against the default offline sheet.

import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, copyFile, mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join } from 'node:path';
import { fsyncPath } from '../../fs-sync.js';
import type { Logger } from '../../log/logger.js';
import { makeDirs } from '../../make-dirs.js';
import { openNewPrivateFile } from '../../private-file.js';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../private-modes.js';
import { A1ParseError, formatA1, parseA1, type GridArea } from '../a1.js';
import type { AppendResult, SheetsBackend, ValueRange } from '../backend.js';
import { OFFLINE_DESTINATION } from '../destination.js';
import { SheetsError } from '../errors.js';
import { SAMPLE_SHEET_DIR } from '../sample-sheet.js';
import { tabKey } from '../tab-key.js';
import { parseCsv, stringifyCsv } from './csv.js';
import { BOM, tabText } from './tab-text.js';

export interface OfflineOptions {
  /** Directory holding the tabs (created and seeded when missing). */
  readonly dir: string;
  readonly sampleDir?: string;
  readonly logger: Logger;
}

function badRange(range: string, detail: string): SheetsError {
  return new SheetsError('CORRAL_ERR_SHEETS_BAD_RANGE', `Unable to parse range: ${range} (${detail})`, {
    status: 400,
    reason: 'INVALID_ARGUMENT',
    applied: 'no',
    retryable: false,
  });
}

function trimRow(row: readonly string[]): string[] {
  let end = row.length;
  while (end > 0 && row[end - 1] === '') end--;
  return row.slice(0, end);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return false;
  }
}

/** Seeds `dir` from the sample sheet unless it already exists. Returns whether it copied. */
export async function seedOfflineSheet(dir: string, sampleDir: string = SAMPLE_SHEET_DIR): Promise<boolean> {
  if (await isDirectory(dir)) return false;
  // Its own temporary dir: the keeper seeds before it takes the data dir's lock, and two starting
  // at once on a fresh data dir shared one name: each removed the other's half-copied dir, or
  // renamed it into place, and the sheet was left without some of its tabs for good (a dir that
  // exists is never seeded again) while the seeder that renamed it said it created the sheet.
  const tmp = `${dir}.seeding-${process.pid}-${randomBytes(4).toString('hex')}`;
  // The one name an older version used, left by its crash mid-copy.
  await rm(`${dir}.seeding`, { recursive: true, force: true });
  try {
    await mkdir(tmp, { mode: PRIVATE_DIR_MODE });
    for (const name of await readdir(sampleDir)) {
      if (!name.endsWith('.csv')) continue;
      // copyFile gives the copy the sample's own mode (0644 in the package): the Players tab holds
      // every login code, so the copy is made private to the service's user.
      await copyFile(join(sampleDir, name), join(tmp, name));
      await chmod(join(tmp, name), PRIVATE_FILE_MODE);
    }
    // Whole or nothing: a crash mid-copy leaves no half-seeded sheet behind.
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another keeper's whole copy got there first.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOTEMPTY' || code === 'EEXIST') && (await isDirectory(dir))) return false;
      throw err;
    }
    return true;
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** A file as its rows were read from it: another inode (a rename over it), size or mtime is an edit. */
function fileKey(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

/**
 * The longest row's length, at least 1. A loop, not Math.max(...rows): spreading a tab of more
 * rows than V8 takes arguments (about 120k) throws "Maximum call stack size exceeded".
 */
function widestRow(rows: readonly (readonly unknown[])[]): number {
  let width = 1;
  for (const r of rows) if (r.length > width) width = r.length;
  return width;
}

export class OfflineBackend implements SheetsBackend {
  readonly kind = 'offline' as const;
  readonly description: string;
  readonly source: string;
  readonly destination = OFFLINE_DESTINATION;
  /** Appends run one at a time: each rewrites a whole tab. */
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * Each tab's rows as last read or written, with the file they came from (`key`: inode, size,
   * mtime; another key is an edit by hand, read again). `asWritten`: the file's text is exactly
   * stringifyCsv(rows), so appending the text of new rows to it is the same as writing it all.
   */
  private readonly parsed = new Map<string, { key: string; rows: readonly string[][]; asWritten: boolean; bom: boolean }>();
  /** The files said not to be UTF-8 (tab-text.ts), by key: said once per version of the file. */
  private readonly saidNotUtf8 = new Map<string, string>();

  /** `onNotUtf8`: told of a tab whose file is not UTF-8, once per version of the file. */
  constructor(
    private readonly dir: string,
    private readonly onNotUtf8: (tab: string, path: string) => void = () => undefined,
  ) {
    this.description = `offline sheet in ${dir}`;
    this.source = `offline ${dir}`;
  }

  private async tabs(): Promise<string[]> {
    return (await readdir(this.dir)).filter((n) => n.endsWith('.csv')).map((n) => basename(n, '.csv')).sort();
  }

  private async resolve(range: string): Promise<{ sheet: string; area: GridArea | undefined }> {
    let parsed;
    try {
      parsed = parseA1(range);
    } catch (err) {
      throw badRange(range, err instanceof A1ParseError ? err.detail : String(err));
    }
    const tabs = await this.tabs();
    const asked = parsed.sheet;
    // Google finds a tab whatever the case of its name (`events!A:A` is the tab Events, and its
    // answers name it Events), as the emulator does: SHEET_EVENTS_RANGE=events worked with Google
    // and every read and append of it was refused here.
    const sheet = asked === undefined ? tabs[0] : tabs.includes(asked) ? asked : tabs.find((t) => tabKey(t) === tabKey(asked));
    if (sheet === undefined || sheet.includes('/')) throw badRange(range, `no tab named ${JSON.stringify(asked ?? '')}`);
    return { sheet, area: parsed.area };
  }

  private async rows(sheet: string): Promise<readonly string[][]> {
    const path = join(this.dir, `${sheet}.csv`);
    const key = fileKey(await stat(path));
    const held = this.parsed.get(sheet);
    if (held?.key === key) return held.rows;
    const { text, utf8, bom } = tabText(await readFile(path));
    if (!utf8 && this.saidNotUtf8.get(sheet) !== key) {
      this.saidNotUtf8.set(sheet, key);
      this.onNotUtf8(sheet, path);
    }
    const rows = parseCsv(text).map(trimRow);
    while (rows.length > 0 && (rows[rows.length - 1] as string[]).length === 0) rows.pop();
    // Read as it was before the read began: a write between the stat and the read is read again
    // next time. A file not in UTF-8 is never appended to as it is: its bytes are not the text's.
    this.parsed.set(sheet, { key, rows, asWritten: utf8 && (bom ? BOM : '') + stringifyCsv(rows) === text, bom });
    return rows;
  }

  async getValues(range: string): Promise<ValueRange> {
    const { sheet, area } = await this.resolve(range);
    const all = await this.rows(sheet);
    const r0 = (area?.startRow ?? 1) - 1;
    const r1 = area?.endRow ?? all.length;
    const c0 = (area?.startCol ?? 1) - 1;
    const c1 = area?.endCol;
    const values = all.slice(r0, r1).map((row) => trimRow(row.slice(c0, c1)));
    while (values.length > 0 && (values[values.length - 1] as string[]).length === 0) values.pop();
    const width = widestRow(values);
    const echo = formatA1(sheet, {
      startRow: r0 + 1,
      startCol: c0 + 1,
      endRow: area?.endRow ?? Math.max(r0 + 1, r0 + values.length),
      endCol: c1 ?? c0 + width,
    });
    return values.length > 0 ? { range: echo, majorDimension: 'ROWS', values } : { range: echo, majorDimension: 'ROWS' };
  }

  async batchGetValues(ranges: readonly string[]): Promise<ValueRange[]> {
    return Promise.all(ranges.map((r) => this.getValues(r)));
  }

  appendValues(range: string, rows: readonly (readonly string[])[]): Promise<AppendResult> {
    const run = this.chain.then(() => this.doAppend(range, rows));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async doAppend(range: string, rows: readonly (readonly string[])[]): Promise<AppendResult> {
    const { sheet, area } = await this.resolve(range);
    const existing = await this.rows(sheet);
    const asWritten = this.parsed.get(sheet)?.asWritten === true;
    const bom = this.parsed.get(sheet)?.bom === true;
    const col = (area?.startCol ?? 1) - 1;
    const added = rows.map((r) => [...(Array(col).fill('') as string[]), ...r.map(String)]);
    const path = join(this.dir, `${sheet}.csv`);
    const tmp = `${path}.tmp`;
    this.parsed.delete(sheet);
    try {
      if (asWritten) {
        // The file is stringifyCsv(existing): a copy of it, and the new rows' text after it.
        await rm(tmp, { force: true });
        await copyFile(path, tmp);
        await chmod(tmp, PRIVATE_FILE_MODE);
        const fh = await open(tmp, 'a');
        try {
          await fh.writeFile(stringifyCsv(added), 'utf8');
          await fh.sync();
        } finally {
          await fh.close();
        }
      } else {
        const fh = await openNewPrivateFile(tmp);
        try {
          await fh.writeFile((bom ? BOM : '') + stringifyCsv([...existing, ...added]), 'utf8');
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      // A write cut short (ENOSPC) would leave the part it wrote holding space on a full disk
      // until the next attempt unlinks it: the space goes back now, not at an unknown later time.
      await rm(tmp, { force: true }).catch(() => undefined);
      throw err;
    }
    await rename(tmp, path);
    await fsyncPath(this.dir, constants.O_RDONLY);
    // The rows as a read of the new file would give them; rows that end empty are popped by such
    // a read, so the next read makes them. Rows with trailing empty cells are read trimmed, and
    // the file's text is then no longer what stringifyCsv makes of its rows: the next append
    // rewrites it whole, as every append did.
    const written = added.map(trimRow);
    if (written.length === 0 || (written[written.length - 1] as string[]).length > 0) {
      const asWrittenNow = written.every((w, i) => w.length === (added[i] as string[]).length);
      this.parsed.set(sheet, { key: fileKey(await stat(path)), rows: [...existing, ...written], asWritten: asWrittenNow, bom });
    }
    const width = widestRow(rows);
    return {
      updatedRange: formatA1(sheet, { startRow: existing.length + 1, endRow: existing.length + rows.length, startCol: col + 1, endCol: col + width }),
      updatedRows: rows.length,
    };
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

/** Seeds the data dir on first start and opens the offline sheet. */
export async function createOfflineBackend(options: OfflineOptions): Promise<OfflineBackend> {
  await makeDirs(join(options.dir, '..'), PRIVATE_DIR_MODE);
  if (await seedOfflineSheet(options.dir, options.sampleDir)) {
    options.logger.info({ event: 'sheets.offline_created', dir: options.dir, from: options.sampleDir ?? SAMPLE_SHEET_DIR }, 'sheets: offline sheet created from the sample sheet');
  }
  // Fail at boot, not on the first request, when the dir is unreadable.
  await readdir(options.dir);
  return new OfflineBackend(options.dir, (tab, path) =>
    options.logger.warn(
      { event: 'sheets.offline_not_utf8', tab, path },
      `sheets: the offline sheet's tab ${tab} (${path}) is not UTF-8: read as Windows-1252, as Excel's "CSV (Comma delimited)" writes it; an event appended to it rewrites it as UTF-8 with a byte order mark, which Excel reads as such. Save it as "CSV UTF-8" to keep one encoding`,
    ),
  );
}
