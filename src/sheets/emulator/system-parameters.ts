// Google's system parameters, taken by every method beside its own query parameters
// (https://cloud.google.com/apis/docs/system-parameters). Most have a spelling with a `$` too
// ("if you have a system parameter $foo, it's sent as ?$foo=xxx in the URL"): `$fields` selects
// fields as `fields` does, `$key` is an API key as `key` is. Some have the `$` spelling alone
// (`$.xgafv`, `$ct`, `$outputDefaults`, `$unique`, `$apiVersion`).

/** Those with both spellings, named without the `$`. */
const BOTH = ['alt', 'callback', 'fields', 'key', 'prettyPrint'];

/** Every name a system parameter is sent under in a query. */
export const SYSTEM_PARAMETERS: readonly string[] = [
  ...BOTH,
  ...BOTH.map((name) => `$${name}`),
  '$.xgafv',
  '$ct',
  '$outputDefaults',
  '$unique',
  '$apiVersion',
  'access_token',
  'oauth_token',
  'quotaUser',
  'uploadType',
  'upload_protocol',
];

/** The value of system parameter `name` (`fields`, `key`, `prettyPrint`, ...) under either spelling; null when absent. */
export function systemParameter(query: URLSearchParams, name: string): string | null {
  return query.get(name) ?? query.get(`$${name}`);
}
