// Creates the worker's Sheets client on first use, so apps that never touch Sheets never connect
// to the keeper.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import type { SheetsClient } from '../sheets/types.js';
import { createWorkerSheetsClient } from '../sheets/worker-client.js';

export interface SheetsAccess {
  client(): SheetsClient | undefined;
  created(): boolean;
  close(): Promise<void>;
}

export function createSheetsAccess(settings: Settings, logger: Logger): SheetsAccess {
  let instance: SheetsClient | undefined;
  return {
    client() {
      instance ??= createWorkerSheetsClient(settings, logger);
      return instance;
    },
    created: () => instance !== undefined,
    async close() {
      await instance?.close();
    },
  };
}
