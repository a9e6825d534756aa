// One raw HTTP exchange: bytes written as they are on a new connection, everything answered read
// until the server closes it (tests of the worker's framing and its raw refusals).

import { connect } from 'node:net';

/** Writes `payload` on a new connection and resolves with everything answered until the server closes it. */
export function exchange(port: number, payload: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let out = '';
    socket.on('data', (d) => (out += d.toString()));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
}
