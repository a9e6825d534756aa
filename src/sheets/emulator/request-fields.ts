// What Google refuses before it reads a request: a query parameter the method does not have, a
// body field its message does not have, a body that is not JSON. Google binds the query and the
// body to the method's request message and answers 400 INVALID_ARGUMENT for anything it cannot
// bind; accepting them, the emulator let a misspelt parameter (includeValuesInResponce) pass
// every test and fail only against Google. Messages as Google words them (observed answers:
// "Invalid JSON payload received. Unknown name \"requests\": Cannot find field.").

import { ApiError } from './api-error.js';
import { SYSTEM_PARAMETERS } from './system-parameters.js';
import type { ValuesMethod } from './values-api.js';

const READ = ['majorDimension', 'valueRenderOption', 'dateTimeRenderOption'];
const WRITE_RESPONSE = ['includeValuesInResponse', 'responseValueRenderOption', 'responseDateTimeRenderOption'];

/** Each method's own query parameters (the REST reference of spreadsheets.values.*). */
const QUERY_PARAMETERS: Readonly<Record<ValuesMethod, ReadonlySet<string>>> = {
  'values.get': new Set([...SYSTEM_PARAMETERS, ...READ]),
  'values.batchGet': new Set([...SYSTEM_PARAMETERS, ...READ, 'ranges']),
  'values.append': new Set([...SYSTEM_PARAMETERS, 'valueInputOption', 'insertDataOption', ...WRITE_RESPONSE]),
  'values.update': new Set([...SYSTEM_PARAMETERS, 'valueInputOption', ...WRITE_RESPONSE]),
  'values.batchUpdate': new Set(SYSTEM_PARAMETERS),
};

/** The fields of a ValueRange, the body of append and update and each of batchUpdate's data. */
export const VALUE_RANGE_FIELDS: ReadonlySet<string> = new Set(['range', 'majorDimension', 'values']);
/** The fields of a BatchUpdateValuesRequest. */
export const BATCH_UPDATE_FIELDS: ReadonlySet<string> = new Set(['valueInputOption', 'data', 'includeValuesInResponse', 'responseValueRenderOption', 'responseDateTimeRenderOption']);

/** 400 for a query parameter `method` does not take. */
export function checkQuery(method: ValuesMethod, query: URLSearchParams): void {
  const known = QUERY_PARAMETERS[method];
  for (const name of query.keys()) {
    if (!known.has(name)) {
      throw new ApiError(400, `Invalid JSON payload received. Unknown name ${JSON.stringify(name)}: Cannot bind query parameter. Field '${name}' could not be found in request message.`);
    }
  }
}

/** 400 for a field of `o` its message does not have; `at` names where it is nested (`data[0]`). */
export function checkFields(o: Record<string, unknown>, known: ReadonlySet<string>, at?: string): void {
  for (const name of Object.keys(o)) {
    if (!known.has(name)) throw new ApiError(400, `Invalid JSON payload received. Unknown name ${JSON.stringify(name)}${at ? ` at '${at}'` : ''}: Cannot find field.`);
  }
}

/**
 * 400 for a body that is not sent as JSON: Google then reads it as form fields, none of which the
 * message has (the whole body becomes one unknown name).
 */
export function checkBodyType(contentType: string | undefined, body: Buffer): void {
  if (body.length === 0 || /^application\/json\s*(;|$)/i.test(contentType ?? '')) return;
  const name = body.toString('utf8').slice(0, 200);
  throw new ApiError(400, `Invalid JSON payload received. Unknown name ${JSON.stringify(name)}: Cannot bind query parameter. Field '${name}' could not be found in request message.`);
}
