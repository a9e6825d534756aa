// What the keeper pays to remember Idempotency-Keys at the cap: the heap the held keys take and the
// bytes their `key` records take in a compacted journal. The keys are built as the app builds them
// (src/app/idempotency-key.ts: scoped key, fingerprint, answer and owner hashes), spread over the
// players the per-player share allows, and held by the keeper's own IdempotencyKeys. The heap is
// read after a full collection, so the run happens in a child started with --expose-gc.

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { keyOwner, requestFingerprint, scopedKey } from '../src/app/idempotency-key.js';
import { IdempotencyKeys } from '../src/sheets/keeper/idempotency-keys.js';
import { encodeRecord } from '../src/sheets/keeper/journal-scan.js';
import { machine, save, table } from './lib/report.js';

export interface IdempotencyMemoryOptions {
  /** Keys held: the default CORRAL_IDEMPOTENCY_KEYS. */
  readonly keys: number;
  /** Keys per player: the default CORRAL_IDEMPOTENCY_KEYS_PER_PLAYER. */
  readonly perPlayer: number;
}

interface Measured {
  readonly keys: number;
  readonly heapBytes: number;
  readonly journalBytes: number;
}

const MB = 1024 * 1024;
const CHILD_FLAG = '--idempotency-memory-child';

function heapAfterCollection(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/** Runs in the child: holds `keys` app-shaped keys and reports what they cost. */
function measure(o: IdempotencyMemoryOptions): Measured {
  const now = Date.now();
  const before = heapAfterCollection();
  const held = new IdempotencyKeys({ ttlMs: 24 * 3600_000, max: o.keys, maxPerOwner: o.perPlayer });
  for (let i = 0; i < o.keys; i++) {
    const player = `Player ${String(Math.floor(i / o.perPlayer)).padStart(3, '0')}`;
    const claim = {
      // A client's key is typically a UUID; the detail is a short text, as the loadtest sends.
      key: scopedKey('POST /api/events', player, randomUUID()),
      fingerprint: requestFingerprint(['scored', `detail of event ${i}`]),
      answer: JSON.stringify({ id: randomUUID(), at: new Date(now + i).toISOString() }),
      owner: keyOwner(player),
    };
    held.reserve(claim, now + i);
    held.settle(claim.key);
  }
  const heapBytes = heapAfterCollection() - before;
  // A compaction writes one `key` record per held key, each a line as the journal writes it: its
  // checksum, a space and the JSON (journal-scan.ts encodeRecord).
  let journalBytes = 0;
  for (const record of held.snapshot(now + o.keys)) journalBytes += Buffer.byteLength(encodeRecord(record));
  if (held.size !== o.keys) throw new Error(`held ${held.size} keys, expected ${o.keys}`);
  return { keys: held.size, heapBytes, journalBytes };
}

export async function benchIdempotencyMemory(o: IdempotencyMemoryOptions): Promise<void> {
  console.log(`\n## idempotency-memory: ${o.keys} Idempotency-Keys held, ${o.perPlayer} per player\nmachine: ${machine()}\n`);
  const out = execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), CHILD_FLAG, JSON.stringify(o)], { encoding: 'utf8' });
  const m = JSON.parse(out) as Measured;
  console.log(
    table(
      ['keys', 'heap MB', 'bytes/key (heap)', 'journal MB', 'bytes/key (journal)'],
      [[m.keys, (m.heapBytes / MB).toFixed(1), Math.round(m.heapBytes / m.keys), (m.journalBytes / MB).toFixed(1), Math.round(m.journalBytes / m.keys)]],
    ),
  );
  console.log(`saved ${save('idempotency-memory', { options: o, machine: machine(), ...m })}`);
}

if (process.argv[2] === CHILD_FLAG) process.stdout.write(JSON.stringify(measure(JSON.parse(process.argv[3] ?? '{}') as IdempotencyMemoryOptions)));
