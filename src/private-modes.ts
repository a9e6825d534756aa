// Modes of what corral writes into CORRAL_DATA_DIR. The offline sheet holds every player's login
// code, the journal and the cache handoff hold players' events, the session secret signs every
// token: none of it is for other local users. Modes are given explicitly rather than left to the
// umask (a shell's 022 makes files readable by everyone); the service's own user is enough.

/** Directories corral creates under (and for) CORRAL_DATA_DIR. */
export const PRIVATE_DIR_MODE = 0o700;

/** Files corral writes there. */
export const PRIVATE_FILE_MODE = 0o600;
