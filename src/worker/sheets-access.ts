// Creates the worker's Sheets client on first use, so apps that never touch Sheets never connect
// to the keeper.

import type { Settings } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { KeeperRestartWindow } from '../sheets/keeper-restart-window.js';
import type { SheetsClient } from '../sheets/types.js';
import { createWorkerSheetsClient } from '../sheets/worker-client.js';

export interface SheetsAccess {
  client(): SheetsClient | undefined;
  created(): boolean;
  close(): Promise<void>;
  /** The master restarts the keeper on purpose: calls wait for the new one, up to `waitMs`. */
  keeperRestarting(waitMs: number): void;
  /** A keeper is ready again: calls waiting for it go now. */
  keeperReady(): void;
}

export function createSheetsAccess(settings: Settings, logger: Logger): SheetsAccess {
  let instance: SheetsClient | undefined;
  // Kept here, not in the client: the master's word may come before the app's first Sheets call.
  const restartWindow = new KeeperRestartWindow();
  return {
    client() {
      instance ??= createWorkerSheetsClient(settings, logger, { restartWindow });
      return instance;
    },
    keeperRestarting: (waitMs) => restartWindow.open(waitMs),
    keeperReady: () => restartWindow.close(),
    created: () => instance !== undefined,
    async close() {
      await instance?.close();
    },
  };
}
