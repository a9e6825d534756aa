// A node:test reporter that writes one block per failed test: its file, its name within its
// suites, and the start of its error. test/run.mjs gives it a file beside the phase's own output
// and prints the blocks of every phase after the last one, where a CI log that keeps only its
// tail still shows what failed and why.

const MAX_ERROR_LINES = 12;

/** The error's message and the first lines of its cause, as a reader of a log needs them. */
function describe(error) {
  if (!error) return 'no error reported';
  const cause = error.cause ?? error;
  const text = cause instanceof Error ? (cause.stack ?? String(cause)) : typeof cause === 'string' ? cause : JSON.stringify(cause, null, 2);
  // Node's own frames say nothing about the test.
  const lines = String(text)
    .split('\n')
    .filter((l) => !/^\s+at .*\(?node:(internal|async_hooks)/.test(l) && !/^\s+at new (Safe)?Promise/.test(l));
  const kept = lines.slice(0, MAX_ERROR_LINES);
  if (lines.length > kept.length) kept.push(`… ${lines.length - kept.length} more lines in the phase's output`);
  return kept.join('\n');
}

export default async function* failureSummary(source) {
  // Per file, the names of the suites open at each depth: a failure's full name is read from them.
  const openByFile = new Map();
  const openIn = (file = '') => {
    if (!openByFile.has(file)) openByFile.set(file, []);
    return openByFile.get(file);
  };
  for await (const event of source) {
    if (event.type === 'test:start') {
      const open = openIn(event.data.file);
      open.length = event.data.nesting;
      open.push(event.data.name);
      continue;
    }
    if (event.type !== 'test:fail') continue;
    const { name, nesting, file, details } = event.data;
    // A suite fails when one of its tests did, and a test is cancelled when its suite timed out:
    // that test, or that suite, has its own block.
    if (details?.error?.failureType === 'subtestsFailed' || details?.error?.failureType === 'cancelledByParent') continue;
    const path = [...openIn(file).slice(0, nesting), name].join(' › ');
    yield `not ok: ${file ?? '(file unknown)'}\n  ${path}\n${describe(details?.error)
      .split('\n')
      .map((l) => `    ${l}`)
      .join('\n')}\n`;
  }
}
