// Piscina task: formats one chunk of rows as CSV bytes off the worker's event loop. The bytes come
// back in their own ArrayBuffer, moved (not copied) to the caller.

import { move } from 'piscina';
import { csvRows } from './csv.js';

export interface CsvTask {
  readonly rows: readonly (readonly string[])[];
  readonly width: number;
  /** The chunk begins the file (csvRows' startsFile). */
  readonly first?: boolean;
}

const encoder = new TextEncoder();

export default function formatCsv(task: CsvTask): Uint8Array {
  const bytes = encoder.encode(csvRows(task.rows, task.width, task.first === true));
  return move(bytes) as Uint8Array;
}
