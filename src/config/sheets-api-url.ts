// SHEETS_API_URL is the API's base (https://sheets.googleapis.com, or an emulator's
// http://127.0.0.1:8085): the client adds /v4/spreadsheets/<id>/values/... to it. Operators copy a
// URL from the API reference (…/v4/spreadsheets) or the sheet's own address
// (docs.google.com/spreadsheets/d/<id>/edit); either passed `corral config` and start, and every
// call then went to a path Google answers 404, behind a master that said ready (only `corral
// check` said so). Such a value is refused, saying what to write.

import { httpUrl, type SettingSpec } from './spec.js';

/** Why `url` (a valid http(s) URL) is not a Sheets API base URL, or undefined. */
export function sheetsApiUrlProblem(url: URL): string | undefined {
  const path = url.pathname.replace(/\/+$/, '');
  if (url.hostname === 'docs.google.com' || /\/spreadsheets\/d\//.test(path)) {
    return "the Sheets API's base URL, not a spreadsheet's address: leave SHEETS_API_URL unset for Google (https://sheets.googleapis.com) and put the spreadsheet's id in SHEET_ID";
  }
  // The client keeps the origin and the path alone: a query (a copied ?key=, an emulator's option)
  // or a fragment was dropped without a word, and what the operator meant by it never happened.
  if (url.search !== '' || url.hash !== '') {
    const kept = `${url.origin}${path}`;
    return `the API's base URL, without a ${url.search !== '' ? 'query (?…)' : 'fragment (#…)'}: corral sends none with its calls (credentials come from the service-account key, or SHEETS_API_KEY): write SHEETS_API_URL=${kept}`;
  }
  const v4 = /\/v4(?:\/|$)/.exec(path);
  if (v4) {
    const base = `${url.origin}${path.slice(0, v4.index)}`;
    return `the API's base URL, without /v4 and what follows (corral adds /v4/spreadsheets/… to it): write SHEETS_API_URL=${base}`;
  }
  return undefined;
}

/**
 * SHEETS_API_URL as it may be shown: the values of a query (refused below, and most often an API
 * key copied with the URL, `?key=AIza...`) and a password masked. A refusal printed the key whole,
 * on stderr and in the journal, where SHEETS_API_KEY itself is never shown.
 */
export function shownSheetsApiUrl(text: string): string {
  return text.replace(/([?&])([^=&#]*)=([^&#]*)/g, '$1$2=***').replace(/^([a-z][a-z0-9+.-]*:\/\/[^/?#@:]*):[^/?#]*@/i, '$1:***@');
}

export function sheetsApiUrl(o: { description: string; default: string }): SettingSpec<string> {
  const spec = httpUrl(o);
  return {
    ...spec,
    show: shownSheetsApiUrl,
    parse: (raw) => {
      const parsed = spec.parse(raw);
      if (!parsed.ok) return parsed;
      const why = sheetsApiUrlProblem(new URL(parsed.value));
      return why ? { ok: false, allowed: why } : parsed;
    },
  };
}
