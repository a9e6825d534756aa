// A journal's declared format read from outside the keeper (`corral check`), so that an operator
// about to start an older build learns that its keeper would refuse the journal before it does.
// Read only, never opened for writing; the start of the file alone, scanned as the keeper's open
// scans its first chunk: every file a build that declares its format begins carries the
// declaration first (journal-format.ts), and the rest of a large journal is no check's to read.

import { open } from 'node:fs/promises';
import { OPEN_CHUNK_BYTES } from './journal-file-open.js';
import { JournalScanner } from './journal-scan.js';

/**
 * The format the journal at `path` declares in its first OPEN_CHUNK_BYTES when this build cannot
 * read it, as `{ v }`; undefined when it declares none it cannot, or there is no file to read.
 */
export async function unknownFormatAtStart(path: string): Promise<{ readonly v: unknown } | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    // No journal yet (before the first start), or one this user may not read: the keeper's own
    // start says what it finds, and the data dir's check what it cannot write.
    return undefined;
  }
  try {
    const chunk = Buffer.alloc(OPEN_CHUNK_BYTES);
    const { bytesRead } = await fh.read(chunk, 0, chunk.length, 0);
    const scanner = new JournalScanner();
    scanner.feed(chunk.subarray(0, bytesRead));
    return scanner.unknownFormat;
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => undefined);
  }
}
