// Creates the worker's Sheets client on first use, so apps that never touch Sheets never connect
// to the keeper.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { SheetsClient } from '../sheets/types.js';

type Factory = (settings: Settings, logger: Logger) => SheetsClient;

export interface SheetsAccess {
  client(): SheetsClient | undefined;
  created(): boolean;
  close(): Promise<void>;
}

export async function createSheetsAccess(settings: Settings, logger: Logger): Promise<SheetsAccess> {
  // Loaded by path so the worker builds while the Sheets layer is developed alongside it.
  const modulePath = '../sheets/worker-client.js';
  let factory: Factory | undefined;
  try {
    factory = ((await import(modulePath)) as { createWorkerSheetsClient?: Factory }).createWorkerSheetsClient;
  } catch {
    factory = undefined;
  }
  let instance: SheetsClient | undefined;
  return {
    client() {
      if (!instance && factory) instance = factory(settings, logger);
      return instance;
    },
    created: () => instance !== undefined,
    async close() {
      await instance?.close();
    },
  };
}
