// Errors the emulator answers with, in Google's envelope:
// {"error":{"code":403,"message":"The caller does not have permission","status":"PERMISSION_DENIED"}}

import type { WireErrorEnvelope } from '../google/wire.js';

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const MESSAGES: Readonly<Record<number, string>> = {
  500: 'Internal error encountered.',
  503: 'The service is currently unavailable.',
  504: 'The service is currently unavailable.',
};

type Detail = NonNullable<WireErrorEnvelope['error']['details']>[number];

export interface HelpLink {
  readonly description: string;
  readonly url: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly reason?: string,
    readonly metadata?: Record<string, string>,
    /** A google.rpc.Help detail after the ErrorInfo (Google adds one to quota errors). */
    readonly help?: HelpLink,
    /** The envelope's status when it is not the code's usual one (FAILED_PRECONDITION for a 400). */
    readonly status?: string,
    /** A google.rpc.BadRequest detail's fieldViolations (a `fields` mask Google cannot expand). */
    readonly fieldViolations?: readonly { readonly field: string; readonly description: string }[],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  envelope(): WireErrorEnvelope {
    const details: Detail[] = [];
    if (this.reason) {
      details.push({ '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: this.reason, domain: 'googleapis.com', metadata: { service: 'sheets.googleapis.com', ...this.metadata } });
    }
    if (this.help) details.push({ '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: this.help.description, url: this.help.url }] });
    if (this.fieldViolations) details.push({ '@type': 'type.googleapis.com/google.rpc.BadRequest', fieldViolations: this.fieldViolations.map((v) => ({ field: v.field, description: v.description })) });
    return {
      error: {
        code: this.code,
        message: this.message,
        status: this.status ?? STATUS_TEXT[this.code] ?? 'UNKNOWN',
        ...(details.length > 0 ? { details } : {}),
      },
    };
  }
}

const FRONT_END_TEXT: Readonly<Record<404 | 502, (path: string) => { title: string; words: string }>> = {
  404: (path) => ({ title: 'Not Found', words: `The requested URL <code>${path}</code> was not found on this server.` }),
  502: () => ({ title: 'Server Error', words: 'The server encountered a temporary error and could not complete your request.<p>Please try again in 30 seconds.' }),
};

/**
 * Google's front end answers some errors itself, with an HTML page rather than the API's JSON
 * envelope: a 502 (logged from sheets.googleapis.com in apache/hop#4391 and
 * akretion/connector-google-spreadsheet#5) and a 404 for a path that is no API method
 * (rana/GCP.jl#8). A client must cope with an error body that is not JSON.
 */
export function frontEndErrorPage(code: 404 | 502, path = '/'): string {
  const { title, words } = FRONT_END_TEXT[code](path.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`));
  return [
    '<!DOCTYPE html>',
    '<html lang=en>',
    '  <meta charset=utf-8>',
    '  <meta name=viewport content="initial-scale=1, minimum-scale=1, width=device-width">',
    `  <title>Error ${code} (${title})!!1</title>`,
    '  <style>',
    '    *{margin:0;padding:0}html,code{font:15px/22px arial,sans-serif}html{background:#fff;color:#222;padding:15px}',
    '  </style>',
    '  <a href=//www.google.com/><span id=logo aria-label=Google></span></a>',
    `  <p><b>${code}.</b> <ins>That’s an error.</ins>`,
    `  <p>${words}  <ins>That’s all we know.</ins>`,
    '',
  ].join('\n');
}

export function serverError(code: number): ApiError {
  return new ApiError(code, MESSAGES[code] ?? 'Internal error encountered.');
}

export function badRange(range: string): ApiError {
  return new ApiError(400, `Unable to parse range: ${range}`);
}

/**
 * A write that would grow the spreadsheet's grids past its cell limit, word for word as Google
 * answers an append (UoaWDCC/uasc-web#833, burnash/gspread#516): 400 INVALID_ARGUMENT, no details.
 */
export function workbookFull(limit: number): ApiError {
  return new ApiError(400, `This action would increase the number of cells in the workbook above the limit of ${limit} cells.`);
}

/**
 * Google's most characters in a cell, counted as Java counts a string's length (UTF-16 code
 * units, so a character outside the BMP is two), as the journal counts them (journal-rows.ts).
 */
export const MAX_CELL_CHARS = 50_000;

/**
 * A write with a cell longer than MAX_CELL_CHARS, word for word as Google refuses it (400
 * INVALID_ARGUMENT, no details; freelabz/secator#96, moevm/github_repo_commitment_calc#67): the
 * whole request, nothing written.
 */
export function cellTooLong(): ApiError {
  return new ApiError(400, `Your input contains more than the maximum of ${MAX_CELL_CHARS} characters in a single cell.`);
}

/**
 * Any values call on a file Drive holds that is not a Google Sheet (an .xlsx uploaded without
 * conversion): googleworkspace/php-samples#65, tidyverse/googlesheets4#275.
 */
export function notASheet(): ApiError {
  return new ApiError(400, 'This operation is not supported for this document', undefined, undefined, undefined, 'FAILED_PRECONDITION');
}

/**
 * A write into a range protected against the caller (Data > Protect sheets and ranges), word for
 * word as Google answers it (gspread's "APIError: [400]: You are trying to edit a protected cell
 * or object. ..."; values:batchUpdate puts "Invalid data[0]: " before it).
 */
export function protectedCell(): ApiError {
  return new ApiError(400, 'You are trying to edit a protected cell or object. Please contact the spreadsheet owner to remove protection if you need to edit.');
}

/**
 * Google's 429 body, naming the limit that refused (the project's or the user's): an ErrorInfo
 * with the quota's metadata, then a Help link, as recorded from the real API in gargle's tests
 * (r-lib/gargle tests/testthat/_snaps/response_process.md, "Resource exhausted (Sheets, ReadGroup)").
 */
export function quotaError(write: boolean, limit: number, of: 'project' | 'user'): ApiError {
  const kind = write ? 'Write' : 'Read';
  return new ApiError(
    429,
    `Quota exceeded for quota metric '${kind} requests' and limit '${kind} requests per minute${of === 'user' ? ' per user' : ''}' of service 'sheets.googleapis.com' for consumer 'project_number:000000000000'.`,
    'RATE_LIMIT_EXCEEDED',
    {
      quota_location: 'global',
      quota_metric: `sheets.googleapis.com/${kind.toLowerCase()}_requests`,
      quota_limit: `${kind}RequestsPerMinutePer${of === 'user' ? 'User' : 'Project'}`,
      quota_limit_value: String(limit),
      consumer: 'projects/000000000000',
    },
    { description: 'Request a higher quota limit.', url: 'https://cloud.google.com/docs/quota#requesting_higher_quota' },
  );
}

export const PERMISSION_DENIED = 'The caller does not have permission';
export const NOT_FOUND = 'Requested entity was not found.';
/**
 * A request with neither a bearer token nor an API key. The Sheets API accepts API keys (for public
 * sheets), so it asks for one: 403 PERMISSION_DENIED, not the 401 of APIs that take tokens only
 * (reported verbatim in github.com/BenFradet/gsheets4s/issues/1, grosv/eloquent-sheets#28).
 */
export const MISSING_API_KEY = 'The request is missing a valid API key.';
export const INVALID_CREDENTIALS =
  'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.';
