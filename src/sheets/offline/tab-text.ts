// A tab's bytes as text. A CSV file saved by Excel as "CSV (Comma delimited)" is Windows-1252, not
// UTF-8: read as UTF-8 with replacement, Chloé became Chlo\uFFFD (that player could no longer log in),
// and the first append rewrote the file with the replacement characters, the operator's letters
// gone for good. Bytes that are not UTF-8 are read as Windows-1252 instead (what Excel wrote), and
// the tab is rewritten as UTF-8 with a byte order mark at its next append, which Excel then reads
// as UTF-8. A file with a BOM ("CSV UTF-8") keeps it: written without, Excel read it as 1252.
// Judged a line at a time once the whole is not UTF-8: a UTF-8 file with one line added by another
// tool (a Windows-1252 editor, `echo >>` from a Latin-1 terminal) read whole as Windows-1252 had
// every UTF-8 letter turned to two (Chloé was ChloÃ©) and its BOM glued to the first header
// (ï»¿name: no name column, every login refused), both written so for good at the next append.

import { isUtf8 } from 'node:buffer';

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

const LF = 0x0a;
const UTF8_BOM = [0xef, 0xbb, 0xbf];

export function tabText(bytes: Uint8Array): TabText {
  if (isUtf8(bytes)) {
    const text = UTF8.decode(bytes);
    return { text, utf8: true, bom: text.startsWith(BOM) };
  }
  // A byte of LF is a line's end in both encodings, never part of a UTF-8 character. Runs of lines
  // in one encoding are decoded together: a decode per line took seconds for 400k lines.
  const hasBom = UTF8_BOM.every((b, i) => bytes[i] === b);
  const parts: string[] = hasBom ? [BOM] : [];
  let runFrom = hasBom ? 3 : 0;
  let runUtf8 = true;
  const flush = (to: number) => {
    if (to > runFrom) parts.push((runUtf8 ? UTF8 : WINDOWS_1252).decode(bytes.subarray(runFrom, to)));
    runFrom = to;
  };
  for (let from = runFrom; from < bytes.length; ) {
    const lf = bytes.indexOf(LF, from);
    const end = lf === -1 ? bytes.length : lf + 1;
    const utf8 = isUtf8(bytes.subarray(from, end));
    if (utf8 !== runUtf8) {
      flush(from);
      runUtf8 = utf8;
    }
    from = end;
  }
  flush(bytes.length);
  return { text: parts.join(''), utf8: false, bom: true };
}
