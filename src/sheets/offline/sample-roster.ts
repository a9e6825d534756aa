// The offline sheet is seeded with the sample's Players tab, whose login codes are published (in
// config/sample-sheet/ and the README: Alice Martin, P001). Harmless on loopback, where a newcomer
// tries corral; listening beyond it (CORRAL_BIND's default, 0.0.0.0:8080), anyone who can reach the
// host can log in as a sample player and write events. Said at the keeper's start, while the tab
// is still the sample's.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isLoopbackHost } from '../../loopback.js';
import { SAMPLE_SHEET_DIR } from '../sample-sheet.js';

const PLAYERS = 'Players.csv';

/** True when `sheetDir`'s Players tab is byte for byte the sample's. */
export async function holdsSampleRoster(sheetDir: string, sampleDir: string = SAMPLE_SHEET_DIR): Promise<boolean> {
  try {
    const [tab, sample] = await Promise.all([readFile(join(sheetDir, PLAYERS)), readFile(join(sampleDir, PLAYERS))]);
    return tab.equals(sample);
  } catch {
    // No Players tab (renamed, removed) or no sample to compare with: not the sample's codes.
    return false;
  }
}

/** The warning's text when the sample's codes are served beyond loopback; undefined otherwise. */
export async function sampleRosterExposure(sheetDir: string, bind: { readonly host: string; readonly port: number }, sampleDir?: string): Promise<string | undefined> {
  if (isLoopbackHost(bind.host) || !(await holdsSampleRoster(sheetDir, sampleDir))) return undefined;
  const at = bind.host.includes(':') ? `[${bind.host}]:${bind.port}` : `${bind.host}:${bind.port}`;
  return (
    `the offline sheet still holds the sample's Players tab, whose login codes are published (Alice Martin, P001, ...), and the app listens on ${at} (CORRAL_BIND), beyond this host: ` +
    `anyone who can reach it can log in as a sample player and write events. Set SHEET_ID for your Google Sheet, edit ${join(sheetDir, PLAYERS)}, or set CORRAL_BIND=127.0.0.1:${bind.port} to try corral on this host only`
  );
}
