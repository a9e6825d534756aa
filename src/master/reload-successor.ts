// A worker of a generation a reload replaces that dies, or is killed as stuck, before it is told to
// drain: the master forks the reload's generation only, so nothing forks it again, and its lines
// must not say "replacing". The exit's line (child-exits.ts) and the kill's (child-killer.ts) say
// it in the same words.

/** The generation the reload in progress boots, when `c` is a worker of another one; else undefined. */
export function outgoingFor(c: { readonly role: string; readonly generation: number }, reloadingTo: number | undefined): number | undefined {
  return c.role === 'worker' && reloadingTo !== undefined && c.generation !== reloadingTo ? reloadingTo : undefined;
}

/** Why such a worker is not replaced. */
export function notReplacedWords(reloadingTo: number): string {
  return `not replaced: the reload to generation ${reloadingTo} brings its successor, ready when that generation's workers are (a reload whose boots fail goes back to this generation's settings, which fork it again)`;
}
