// autocannon ships no types; bench/lib/load.ts narrows the parts it uses.
declare module 'autocannon';
