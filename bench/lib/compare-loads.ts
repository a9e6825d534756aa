// The loads of compare's matrix (connections, and whether they keep their connection alive), as
// BENCH_COMPARE_LOADS names them: `100` is 100 keep-alive connections, `100-close` 100 that open a
// connection per request. Re-running the goal loads alone (`100,1000`) after a change takes a
// third of the whole matrix's time.

export interface LoadShape {
  readonly connections: number;
  readonly keepAlive: boolean;
}

/** The whole matrix, the default. */
export const FULL_MATRIX: readonly LoadShape[] = [
  { connections: 10, keepAlive: true },
  { connections: 100, keepAlive: true },
  { connections: 300, keepAlive: true },
  { connections: 1000, keepAlive: true },
  { connections: 100, keepAlive: false },
];

export const loadName = (l: LoadShape): string => `${l.connections}${l.keepAlive ? '' : '-close'}`;

/** The loads `raw` names, in its order, or why it names none: a message for the operator. */
export function parseCompareLoads(raw: string): LoadShape[] | { refused: string } {
  const loads: LoadShape[] = [];
  for (const part of raw.split(',').map((p) => p.trim())) {
    const m = /^(\d+)(-close)?$/.exec(part);
    const connections = m ? Number(m[1]) : NaN;
    if (!m || !Number.isSafeInteger(connections) || connections < 1) {
      return { refused: `"${part}" is not a load: a number of connections ≥ 1, with -close for a connection per request (e.g. ${FULL_MATRIX.map(loadName).join(',')})` };
    }
    const load = { connections, keepAlive: m[2] === undefined };
    if (loads.some((l) => loadName(l) === loadName(load))) return { refused: `${part} is named twice` };
    loads.push(load);
  }
  return loads;
}
