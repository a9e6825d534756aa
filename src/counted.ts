// A count with its noun, singular or plural as the count needs: log lines and messages read
// "1 worker", "3 workers", never "1 workers".

/** "1 timeout", "3 timeouts" (nouns whose plural adds an s). */
export function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
