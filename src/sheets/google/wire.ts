// JSON shapes of the Sheets API v4 and of Google's OAuth token endpoint, as they travel on the
// wire. Shared by the client (parsing) and the emulator (producing).
// https://developers.google.com/sheets/api/reference/rest/v4/spreadsheets.values

export type MajorDimension = 'ROWS' | 'COLUMNS';
export type ValueInputOption = 'RAW' | 'USER_ENTERED';
export type InsertDataOption = 'INSERT_ROWS' | 'OVERWRITE';

export interface WireValueRange {
  range: string;
  majorDimension: MajorDimension;
  /** Absent when the range holds no data. Cells are strings with the default FORMATTED_VALUE. */
  values?: unknown[][];
}

export interface WireBatchGetResponse {
  spreadsheetId: string;
  valueRanges?: WireValueRange[];
}

export interface WireUpdateValuesResponse {
  spreadsheetId: string;
  updatedRange: string;
  updatedRows?: number;
  updatedColumns?: number;
  updatedCells?: number;
  /** The cells written, read back: only when the request asked includeValuesInResponse=true. */
  updatedData?: WireValueRange;
}

export interface WireAppendValuesResponse {
  spreadsheetId: string;
  /** The table found before the append, absent when none was found. */
  tableRange?: string;
  updates: WireUpdateValuesResponse;
}

export interface WireBatchUpdateValuesResponse {
  spreadsheetId: string;
  totalUpdatedRows?: number;
  totalUpdatedColumns?: number;
  totalUpdatedCells?: number;
  totalUpdatedSheets?: number;
  responses?: WireUpdateValuesResponse[];
}

/** Google's error envelope: `{"error":{"code":403,"message":"...","status":"PERMISSION_DENIED"}}`. */
export interface WireErrorEnvelope {
  error: {
    code: number;
    message: string;
    status: string;
    /** google.rpc.ErrorInfo (reason, domain, metadata), google.rpc.Help (links) and google.rpc.BadRequest, among others. */
    details?: Array<{
      '@type': string;
      reason?: string;
      domain?: string;
      metadata?: Record<string, string>;
      links?: Array<{ description: string; url: string }>;
      /** google.rpc.BadRequest: what was wrong with which field of the request. */
      fieldViolations?: Array<{ field: string; description: string }>;
    }>;
  };
}

/** Token endpoint success (RFC 6749 §5.1). */
export interface WireTokenResponse {
  access_token: string;
  expires_in: number;
  token_type: string;
}

/** Token endpoint failure (RFC 6749 §5.2): `{"error":"invalid_grant","error_description":"..."}`. */
export interface WireTokenError {
  error: string;
  error_description?: string;
}

export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const SCOPE_READWRITE = 'https://www.googleapis.com/auth/spreadsheets';
export const SCOPE_READONLY = 'https://www.googleapis.com/auth/spreadsheets.readonly';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
