// Public surface of the Sheets API emulator.

export { startEmulator } from './server.js';
export type { Emulator, EmulatorOptions, RegisterOptions } from './emulator.js';
export type { ReadCall } from './read-log.js';
export { DEFAULT_FAULTS, parseFaults } from './faults.js';
export type { EmulatorCounters, EmulatorMethod, Faults } from './faults.js';
export { defaultSeed, loadSeedFile, parseSeed, DEFAULT_SPREADSHEET_ID, SPREADSHEET_ID_CHARS } from './seed.js';
export type { SheetSeed } from './seed.js';
export { generateServiceAccountKey } from './keys.js';
export type { ShareRole } from './store.js';
