// A tab's bytes as text. A CSV file saved by Excel as "CSV (Comma delimited)" is Windows-1252, not
// UTF-8: read as UTF-8 with replacement, Chloé became Chlo\uFFFD (that player could no longer log in),
// and the first append rewrote the file with the replacement characters, the operator's letters
// gone for good. Bytes that are not UTF-8 are read as Windows-1252 instead (what Excel wrote), and
// the tab is rewritten as UTF-8 with a byte order mark at its next append, which Excel then reads
// as UTF-8. A file with a BOM ("CSV UTF-8") keeps it: written without, Excel read it as 1252.

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const WINDOWS_1252 = new TextDecoder('windows-1252');

export const BOM = '\ufeff';

export interface TabText {
  /** The file's text, its BOM included when it has one. */
  readonly text: string;
  /** False: the bytes are not UTF-8, and were read as Windows-1252. */
  readonly utf8: boolean;
  /** Whether a rewrite begins with a BOM: the file had one, or was not UTF-8. */
  readonly bom: boolean;
}

export function tabText(bytes: Uint8Array): TabText {
  try {
    const text = UTF8.decode(bytes);
    return { text, utf8: true, bom: text.startsWith(BOM) };
  } catch {
    return { text: WINDOWS_1252.decode(bytes), utf8: false, bom: true };
  }
}
