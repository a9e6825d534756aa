// What an API key's restrictions refused, said so the operator changes the key rather than the sheet.
// Google answers 403 PERMISSION_DENIED with a google.rpc.ErrorInfo (domain googleapis.com) whose
// reason names the restriction (google.api.ErrorReason: API_KEY_SERVICE_BLOCKED,
// API_KEY_HTTP_REFERRER_BLOCKED, API_KEY_IP_ADDRESS_BLOCKED, API_KEY_ANDROID_APP_BLOCKED,
// API_KEY_IOS_APP_BLOCKED). Its message alone ("Requests from referer <empty> are blocked.") read
// like the 403 of a sheet that is not public, and corral said to share the sheet
// (FranzDiebold/ng-google-sheets-db-library#15).

const WHERE = 'Google Cloud console > APIs & Services > Credentials > the key';
/** What a server may use instead of an application restriction it can never satisfy. */
const SERVER_CHOICE = "choose None or IP addresses (this host's)";

const RESTRICTIONS: Readonly<Record<string, string>> = {
  API_KEY_SERVICE_BLOCKED: `the key's API restrictions do not include the Google Sheets API. In ${WHERE} > API restrictions, add "Google Sheets API" or choose Don't restrict key`,
  // A server sends no Referer, so a key restricted to websites never works for corral.
  API_KEY_HTTP_REFERRER_BLOCKED: `the key is restricted to websites (HTTP referrers), and corral calls from a server, which sends none. In ${WHERE} > Application restrictions, ${SERVER_CHOICE}`,
  API_KEY_IP_ADDRESS_BLOCKED: `the key is restricted to IP addresses that do not include this host's address (as Google sees it, behind any NAT or proxy). In ${WHERE} > Application restrictions, add it`,
  API_KEY_ANDROID_APP_BLOCKED: `the key is restricted to Android apps, and corral is none. In ${WHERE} > Application restrictions, ${SERVER_CHOICE}`,
  API_KEY_IOS_APP_BLOCKED: `the key is restricted to iOS apps, and corral is none. In ${WHERE} > Application restrictions, ${SERVER_CHOICE}`,
};

/** Which restriction of the key refused the call, and where to change it; undefined for none. */
export function keyRestriction(reasons: readonly string[]): string | undefined {
  const r = reasons.find((reason) => Object.hasOwn(RESTRICTIONS, reason));
  return r === undefined ? undefined : RESTRICTIONS[r];
}
