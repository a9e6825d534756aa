// The verdict's line of what went unjudged in the steps that ran: each step's reasons say "this
// step", and repeat from step to step and from CPU to RAM; the line says each once, naming the
// steps. A file of its own: text work on the checks' details, apart from what the verdict decides.
// The prefixes are those judgeSegment (segment-judgement.ts) gives its CPU and RAM checks.

/** How judgeSegment begins the detail of a CPU or RAM check it could not judge. */
export const CPU_UNJUDGED = 'CPU not judged: ';
export const RAM_UNJUDGED = 'RAM not judged: ';

/** Each reason once; CPU and RAM unjudged for the same reason (no admin API) are said together. */
function joinUnjudged(details: readonly string[]): string {
  const unique = [...new Set(details)];
  const cpuReasons = new Set(unique.filter((d) => d.startsWith(CPU_UNJUDGED)).map((d) => d.slice(CPU_UNJUDGED.length)));
  const both = (d: string): string | undefined => {
    const reason = d.startsWith(CPU_UNJUDGED) ? d.slice(CPU_UNJUDGED.length) : d.startsWith(RAM_UNJUDGED) ? d.slice(RAM_UNJUDGED.length) : undefined;
    return reason !== undefined && cpuReasons.has(reason) && unique.includes(`${RAM_UNJUDGED}${reason}`) ? reason : undefined;
  };
  const out: string[] = [];
  for (const d of unique) {
    const reason = both(d);
    if (reason === undefined) out.push(d);
    else if (d.startsWith(CPU_UNJUDGED)) out.push(`CPU and RAM not judged: ${reason}`);
  }
  return out.join('; ');
}

/**
 * A step's reason says "this step"; among the verdict's lines it names the steps instead ("covers
 * ramp_down"), those with the same reason together, or the reader cannot tell which step it was.
 */
function namingSteps(unjudged: readonly { readonly detail: string; readonly label: string }[]): string[] {
  const steps = new Map<string, Set<string>>();
  for (const u of unjudged) if (u.detail.includes('this step')) steps.set(u.detail, (steps.get(u.detail) ?? new Set()).add(u.label));
  return unjudged.map((u) => {
    const labels = steps.get(u.detail);
    return labels ? u.detail.replaceAll('this step', [...labels].join(', ')) : u.detail;
  });
}

/** The line for the checks left unjudged (`detail`) in the steps that ran (`label`). */
export function unjudgedLine(unjudged: readonly { readonly detail: string; readonly label: string }[]): string {
  return joinUnjudged(namingSteps(unjudged));
}
