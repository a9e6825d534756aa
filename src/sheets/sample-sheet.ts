// Where the bundled sample sheet lives: config/sample-sheet/ of the installed package (its Players
// and Events tabs as CSV). The offline sheet is seeded from it, the emulator serves it by default,
// and `corral loadtest` logs in with its Players tab unless given other users.

import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** config/sample-sheet/ (dist/src/sheets → package root is three levels up). */
export const SAMPLE_SHEET_DIR = fileURLToPath(new URL('../../../config/sample-sheet/', import.meta.url));

/** The sample sheet's tab `title` (Players, Events) as a CSV file. */
export function sampleTabFile(title: string): string {
  return join(SAMPLE_SHEET_DIR, `${title}.csv`);
}
