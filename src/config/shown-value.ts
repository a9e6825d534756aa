// How a setting's value may be shown (`corral config`, refusals, warnings, a reload's plan and
// its answer): secrets redacted whole, a proxy URL's or REDIS_URL's password alone. One place,
// so that no path that shows a value forgets a secret.

import { schema, type SettingName } from './schema.js';
import type { SettingSpec } from './spec.js';

/** A value as written, as it may be shown: secrets redacted whole, a proxy URL's or REDIS_URL's password alone. */
export function shownRaw(spec: SettingSpec<unknown>, raw: string): string {
  if (spec.show) return spec.show(raw);
  return spec.secret ? '<redacted>' : raw;
}

/** Printable value of a setting, with secrets redacted. */
export function displayValue(name: SettingName, value: unknown): string {
  const spec = schema[name] as SettingSpec<unknown>;
  if (value === undefined) return '(unset)';
  if (spec.show) return spec.show(spec.format(value));
  return spec.secret ? '<redacted>' : spec.format(value);
}
