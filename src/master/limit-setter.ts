// What sets a cgroup's limit, and how an operator raises it: systemd's setting on the unit or
// slice the cgroup is (`TasksMax= of corral.service: systemctl set-property ...`), else a
// container's. Said by the lines that name a limit reached or too low (death-causes.ts,
// task-limit-check.ts), from the path of the cgroup whose limit it is: raising corral's own
// TasksMax= does nothing for a limit a slice above it sets.

/** The systemd unit (or slice) a cgroup path names, if it is one of systemd's. */
export function unitOf(path: string): string | undefined {
  const last = path.split('/').filter((p) => p !== '').at(-1);
  return last !== undefined && /\.(service|scope|slice)$/.test(last) ? last : undefined;
}

/** What sets the limit of the cgroup at `path`, and how to raise it to `value`. */
export function limitSetter(path: string, setting: 'MemoryMax' | 'TasksMax', value: string): string {
  const unit = unitOf(path);
  if (unit !== undefined) return `${setting}= of ${unit}: systemctl set-property ${unit} ${setting}=${value} (or ${setting}= in the unit file: systemctl edit ${unit.replace(/\.service$/, '')})`;
  return setting === 'MemoryMax' ? `the container's memory limit (docker run --memory ${value}, a pod's resources.limits.memory)` : `the container's pids limit (docker run --pids-limit ${value}, a pod's pids limit)`;
}
