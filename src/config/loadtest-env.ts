// What `corral loadtest` takes from its environment. The load test is a client: it does not load
// the daemon's settings (a .env in the current directory, every server setting validated), it
// only reads the one secret that should not travel on its command line, where `ps` shows it, and
// whether its terminal can take a line redrawn in place.
// src/config owns every look at process.env.

export interface LoadtestEnv {
  /** $CORRAL_ADMIN_TOKEN: the admin API's token, used when --admin-token is not given. */
  readonly adminToken: string | undefined;
  /**
   * False under CI (CI set, and not "false" or "0") or TERM=dumb: even on a terminal, the progress
   * is then printed as plain lines. CI runners that give the job a pseudo-terminal (docker -t,
   * GitLab, Jenkins) keep every carriage return and escape sequence in the job's log.
   */
  readonly progressInPlace: boolean;
}

function isCi(value: string | undefined): boolean {
  const v = value?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== 'false' && v !== '0';
}

export function readLoadtestEnv(env: NodeJS.ProcessEnv = process.env): LoadtestEnv {
  const token = env.CORRAL_ADMIN_TOKEN;
  return {
    adminToken: token !== undefined && token.trim() !== '' ? token.trim() : undefined,
    progressInPlace: !isCi(env.CI) && env.TERM !== 'dumb',
  };
}
