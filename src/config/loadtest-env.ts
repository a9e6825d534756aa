// What `corral loadtest` takes from its environment. The load test is a client: it does not load
// the daemon's settings (a .env in the current directory, every server setting validated), it
// only reads the one secret that should not travel on its command line, where `ps` shows it.
// src/config owns every look at process.env.

export interface LoadtestEnv {
  /** $CORRAL_ADMIN_TOKEN: the admin API's token, used when --admin-token is not given. */
  readonly adminToken: string | undefined;
}

export function readLoadtestEnv(env: NodeJS.ProcessEnv = process.env): LoadtestEnv {
  const token = env.CORRAL_ADMIN_TOKEN;
  return { adminToken: token !== undefined && token.trim() !== '' ? token.trim() : undefined };
}
