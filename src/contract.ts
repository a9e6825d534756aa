// The app contract: what CORRAL_APP modules receive and must return.

import type { RequestListener } from 'node:http';
import type { Settings } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { SheetsClient } from './sheets/types.js';

export interface AppContext {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly sheets: SheetsClient | undefined;
  readonly workerId: number;
  readonly generation: number;
  /** Register cleanup run when the worker drains (close pools, flush). */
  onClose(fn: () => Promise<void> | void): void;
}

/** `createApp(ctx)` may be sync or async; a default export that is itself a listener also works. */
export type CreateApp = (ctx: AppContext) => RequestListener | Promise<RequestListener>;
