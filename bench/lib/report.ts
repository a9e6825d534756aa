// Prints bench tables and keeps the figures as JSON under bench/results/.

import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { makeDirsSync } from '../../src/make-dirs.js';
import { REPO_ROOT } from '../../test/helpers/corral.js';

export function machine(): string {
  const c = cpus();
  return `${c.length} x ${c[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB RAM, Node ${process.version}, ${process.platform}`;
}

export function table(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): string {
  const cells = [headers, ...rows].map((r) => r.map((v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v)));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]) => `| ${r.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(cells[0] ?? []), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

/** The lower median (a value that was measured, not an average of two rounds); NaN when empty or when a value is NaN. */
export function median(xs: readonly number[]): number {
  // A round with no figure (a server that answered no 2xx: its ratio and p99 are NaN) makes the
  // median none: a NaN breaks the sort's comparisons, and the "median" was whichever value the
  // sort left in the middle (median([5, NaN, 1, 4, 3]) was 1). NaN fails every goal.
  if (xs.some((x) => Number.isNaN(x))) return NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)] ?? NaN;
}

/** bench/results/ holds the figures the README quotes; BENCH_RESULTS_DIR sends a run's elsewhere. */
export function resultsDir(): string {
  return process.env.BENCH_RESULTS_DIR || join(REPO_ROOT, 'bench', 'results');
}

/**
 * Why the figures could not be saved, or undefined when they can: made (as save would) and written
 * to once. Checked before any section starts: a BENCH_RESULTS_DIR that was a file, or not
 * writable, failed the run at its first save, after that section's minutes of load, its figures
 * lost. A probe file rather than access(W_OK), which says yes to root on a read-only mount.
 */
export function resultsDirProblem(dir: string = resultsDir()): string | undefined {
  const probe = join(dir, `.bench-write-check-${process.pid}`);
  try {
    // Not a recursive mkdir: it loops for ever under a parent that answers ENOENT (/proc).
    makeDirsSync(dir);
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function save(section: string, data: unknown): string {
  const dir = resultsDir();
  makeDirsSync(dir);
  const file = join(dir, `${section}.json`);
  // Written aside, then renamed over the figures the README quotes: a run stopped or a disk filled
  // mid-write leaves the previous file whole, not truncated.
  const tmp = join(dir, `.${section}.json.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, `${JSON.stringify({ machine: machine(), at: new Date().toISOString(), ...(data as object) }, null, 2)}\n`);
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return file;
}
