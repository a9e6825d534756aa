// Where one sheet's shared state lives in Redis. The prefix is a digest of the backend's source
// (spreadsheet, API URL, account): hosts of one sheet meet under it, another sheet's hosts never
// do, and neither the sheet's id nor the account is written into key names. The braces are a
// Redis Cluster hash tag, so every key of a sheet is in one slot (the quota script uses two).

import { createHash } from 'node:crypto';

export function sharedPrefix(source: string): string {
  return `corral:{${createHash('sha256').update(source).digest('hex').slice(0, 24)}}`;
}
