// Range names a keeper remembers something about (filled once, said too large once). A sheet's
// ranges are few, but their names come from requests: bounded, and forgotten all at once when
// full, so the worst a flood of names does is repeat a log line or a change notice.

const MAX_REMEMBERED_RANGES = 10_000;

export class RangeMemory {
  private readonly names = new Set<string>();

  has(range: string): boolean {
    return this.names.has(range);
  }

  /** Remembers the range; true when it was not remembered before. */
  add(range: string): boolean {
    if (this.names.has(range)) return false;
    if (this.names.size >= MAX_REMEMBERED_RANGES) this.names.clear();
    this.names.add(range);
    return true;
  }
}
